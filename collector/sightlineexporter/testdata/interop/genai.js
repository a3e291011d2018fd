// The openai client instrumented by one of two instrumentations, chosen by
// the first argument, exporting traces and logs over OTLP/HTTP to Sightline:
//   otel           @opentelemetry/instrumentation-openai (the OpenTelemetry
//                  project's own): model, tokens and timing on the span, the
//                  content in log events (content capture is switched on by
//                  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true,
//                  which the test sets, as a user would)
//   openinference  @arizeai/openinference-instrumentation-openai: everything
//                  on the span
// The Go interop test starts a fake OpenAI-compatible server and Sightline
// and sets:
//   OPENAI_BASE_URL  the fake server (http://127.0.0.1:PORT/v1)
//   OTLP_ENDPOINT    Sightline's OTLP/HTTP endpoint (http://127.0.0.1:PORT)
// It makes one plain and one streaming chat completion, then flushes.
const mode = process.argv[2];
if (mode !== "otel" && mode !== "openinference") {
  console.error("usage: node genai.js otel|openinference");
  process.exit(2);
}

const { trace, logs, context } = require("@opentelemetry/api");
const { AsyncLocalStorageContextManager } = require("@opentelemetry/context-async-hooks");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const { TracerProvider, BatchSpanProcessor } = require("@opentelemetry/sdk-trace");
const { LoggerProvider, BatchLogRecordProcessor } = require("@opentelemetry/sdk-logs");
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-http");
const { OTLPLogExporter } = require("@opentelemetry/exporter-logs-otlp-http");

const endpoint = process.env.OTLP_ENDPOINT;
const resource = resourceFromAttributes({ "service.name": "interop-" + mode });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const tracerProvider = new TracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: endpoint + "/v1/traces" }) })],
});
trace.setGlobalTracerProvider(tracerProvider);
const loggerProvider = new LoggerProvider({
  resource,
  processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: endpoint + "/v1/logs" }) })],
});
logs.setGlobalLoggerProvider(loggerProvider);

if (mode === "otel") {
  // Before openai is loaded: the instrumentation patches it on require.
  const { registerInstrumentations } = require("@opentelemetry/instrumentation");
  const { OpenAIInstrumentation } = require("@opentelemetry/instrumentation-openai");
  registerInstrumentations({ instrumentations: [new OpenAIInstrumentation()] });
}
const OpenAIModule = require("openai");
if (mode === "openinference") {
  const { OpenAIInstrumentation } = require("@arizeai/openinference-instrumentation-openai");
  new OpenAIInstrumentation().manuallyInstrument(OpenAIModule);
}

async function main() {
  const client = new OpenAIModule.OpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: "sk-interop" });

  const plain = await client.chat.completions.create({
    model: "gpt-4o-mini",
    temperature: 0.2,
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

  await tracerProvider.forceFlush();
  await loggerProvider.forceFlush();
  await tracerProvider.shutdown();
  await loggerProvider.shutdown();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
