// An init context that throws after importing k6/websockets: the run ends with k6's exit code
// for a script error, not a crash (the module's hold on the context is let go).
import { WebSocket } from 'k6/websockets';

throw new Error(`init fails before ${typeof WebSocket}`);

export default function () {}
