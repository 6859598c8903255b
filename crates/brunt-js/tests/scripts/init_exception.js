// An exception in the init context aborts the run with exit code 107.
export const options = { iterations: 1 };

throw new Error('broken init');

export default function () {}
