// Trend percentiles as k6 computes them: the samples in order, linear interpolation between the
// closest ranks. Every threshold here passes under k6; a histogram lookup without interpolation
// fails the ones marked "flips" (p(95) of 1..10 and 123.456789 read 123.456, not 66.728).
// k6-compare: values outlier,hundred,negative,single,equal,timed
import { Trend } from 'k6/metrics';

const outlier = new Trend('outlier');
const hundred = new Trend('hundred');
const negative = new Trend('negative');
const single = new Trend('single');
const equal = new Trend('equal');
const timed = new Trend('timed', true);

export const options = {
  iterations: 1,
  vus: 1,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'p(99.9)', 'p(0)', 'p(100)', 'count'],
  thresholds: {
    outlier: ['p(95)<100', 'p(95)>66.72', 'p(99)<120', 'med==6', 'avg>15'], // flips: p(95)<100, p(99)<120
    hundred: ['med==50.5', 'p(90)>90.05', 'p(99)>99'], // flips: all three
    negative: ['med<0', 'min==-5', 'p(95)>2.5'], // flips: med<0
    single: ['p(95)==42.5', 'med==42.5', 'max==42.5'],
    equal: ['p(99)==7.25', 'p(0)==7.25'],
    timed: ['p(95)<1000', 'med==3'], // flips: p(95)<1000 (the histogram read the max)
  },
};

export default function () {
  for (let i = 1; i <= 10; i++) outlier.add(i);
  outlier.add(123.456789);
  for (let i = 1; i <= 100; i++) hundred.add(i);
  for (const v of [-5, -1, 3]) negative.add(v);
  single.add(42.5);
  for (let i = 0; i < 9; i++) equal.add(7.25);
  for (const v of [1, 2, 3, 4, 1003]) timed.add(v);
}
