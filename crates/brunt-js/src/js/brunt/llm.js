// brunt/llm: OpenAI-compatible LLM requests measured per token, for scripts. llm.chat({url,
// model, messages, max_tokens, stream, headers, tags, timeout}) and llm.complete({..., prompt})
// send one request (streamed unless stream: false), record the llm_* metrics with the request's
// tags as `brunt llm` does, and return {status, text, usage, ttft, tpot, itl, e2e, chunks,
// output_tokens, error, error_cause} (times in ms; error null on success). See docs/llm.md.
const n = globalThis.__brunt_native('llm');

function call(api, name, req) {
  if (req === null || typeof req !== 'object') {
    throw new Error(`${name} needs an object: {url, model, ...}`);
  }
  const { headers, timeout, tags, ...rest } = req;
  return n.request(api, JSON.stringify(rest), headers || null, timeout ?? null, tags || null);
}

export function chat(req) {
  return call('chat', 'llm.chat', req);
}

export function complete(req) {
  return call('completions', 'llm.complete', req);
}

export default { chat, complete };
