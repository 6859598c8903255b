// k6/metrics: Counter, Gauge, Rate and Trend.
const n = globalThis.__brunt_native('metrics');

class Metric {
  constructor(name, isTime, type) {
    this.name = String(name);
    this.type = type;
    this.isTime = !!isTime;
    this._id = n.metricNew(this.name, type, this.isTime);
  }
}
// add(value, tags) is native (it reads this._id): one call per sample instead of two.
Object.defineProperty(Metric.prototype, 'add', { value: n.add, writable: true, configurable: true });

export class Counter extends Metric {
  constructor(name, isTime) { super(name, isTime, 'counter'); }
}
export class Gauge extends Metric {
  constructor(name, isTime) { super(name, isTime, 'gauge'); }
}
export class Rate extends Metric {
  constructor(name, isTime) { super(name, isTime, 'rate'); }
}
export class Trend extends Metric {
  constructor(name, isTime) { super(name, isTime, 'trend'); }
}

export default { Counter, Gauge, Rate, Trend };
