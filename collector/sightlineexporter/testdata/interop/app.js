// A real application shape: the openai client instrumented by OpenLLMetry
// (@traceloop/node-server-sdk), exporting OTLP/HTTP to sightline-collector.
// The Go interop test starts a fake OpenAI-compatible server and the
// collector and sets:
//   OPENAI_BASE_URL     the fake server (http://127.0.0.1:PORT/v1)
//   TRACELOOP_BASE_URL  the collector's OTLP/HTTP endpoint
// It makes one plain and one streaming chat completion, then flushes.
const traceloop = require("@traceloop/node-server-sdk");
const { OpenAI } = require("openai");

traceloop.initialize({
  appName: "interop-app",
  baseUrl: process.env.TRACELOOP_BASE_URL,
  apiKey: "interop",
  disableBatch: true,
  silenceInitializationMessage: true,
  instrumentModules: { openAI: OpenAI },
});

async function main() {
  const client = new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: "sk-interop" });

  const plain = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [
      { role: "system", content: "You answer in one short sentence." },
      { role: "user", content: "What is the capital of France?" },
    ],
  });
  console.log("plain:", plain.choices[0].message.content);

  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Count to three." }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  console.log("stream:", text);

  await traceloop.forceFlush();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
