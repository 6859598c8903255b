// exec.test.abort() in the init context: k6 exits 108 ("could not initialize ... test
// aborted"), not 107 as for an exception there, and runs nothing.
import exec from 'k6/execution';

if (!__ENV.NEVER_SET) exec.test.abort('no test data');

export default function () {}
