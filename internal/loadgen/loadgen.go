// Package loadgen produces realistic synthetic LLM traffic through the SDK:
// several apps, models and variants, RAG context on part of the calls,
// references on part, user segments. It is deterministic for a seed, so a
// test can know what it sent.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	"github.com/sightline-dev/sightline/schemas/kafkaconf"
	"github.com/sightline-dev/sightline/sdk"
)

// Config of one run.
type Config struct {
	Brokers []string
	// TLS and SASL to the brokers (the config file's kafka.tls and
	// kafka.sasl); zero is plaintext without authentication.
	TLS    kafkaconf.TLS
	SASL   kafkaconf.SASL
	Topic  string
	Tenant string
	// Count is the exact number of events to produce (0: until Duration).
	Count int
	// Duration bounds the run when Count is 0.
	Duration time.Duration
	// Rate is events per second; 0 means as fast as possible.
	Rate float64
	Seed uint64
	// Scenario shapes the traffic; "" or "steady" is normal traffic.
	Scenario string
	// Invalid adds this many malformed records (garbage bytes, unsupported
	// schema version, missing fields) to show the dead-letter path.
	Invalid int
	// Now is the clock for event timestamps (default time.Now).
	Now func() time.Time
}

// Result of a run.
type Result struct {
	Produced int64
	Failed   int64
	Elapsed  time.Duration
}

// Scenarios shape the traffic with a known truth, so tests and demos can
// check that the signals find it. Phases are fractions of the run (of
// --count, or of --duration).
var scenarios = map[string]string{
	"steady": "normal traffic",
	"drift": "from half-way on, search-rag's latency grows 1.6x, its answers 1.5x longer, and its prompts " +
		"turn to a new topic (numeric and text drift)",
	"toxicity-incident": "between 40% and 70% of the run, half of support-bot's completions are toxic",
	"bias":              "users with locale hi-IN get refusals 25% of the time, others 3% (an outcome disparity)",
	"ab":                "support-bot's variant empathetic-v2 is 1.3x slower and refuses 10% vs 2% for control",
}

// Run produces the traffic and waits until every event is acknowledged.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Scenario == "" {
		cfg.Scenario = "steady"
	}
	if _, ok := scenarios[cfg.Scenario]; !ok {
		return Result{}, fmt.Errorf("unknown scenario %q (known: steady, drift, toxicity-incident, bias, ab)", cfg.Scenario)
	}
	if cfg.Count < 0 || (cfg.Count == 0 && cfg.Duration <= 0) {
		return Result{}, errors.New("loadgen needs --count N (N > 0) or --duration D")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tenant == "" {
		cfg.Tenant = "default"
	}
	if k := (kafkaconf.Config{Brokers: cfg.Brokers, TLS: cfg.TLS, SASL: cfg.SASL}); k.Secured() {
		// Once, spelled as the config file's keys, before the SDK's
		// clients (which check again under their option names).
		if err := k.Check(ctx); err != nil && !errors.Is(err, kafkaconf.ErrUnreachable) {
			return Result{}, err
		}
	}
	g := New(cfg.Seed)
	clients := map[string]*sdk.Client{}
	defer func() {
		for _, c := range clients {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c.Close(cctx)
			cancel()
		}
	}()
	client := func(app string) (*sdk.Client, error) {
		if c, ok := clients[app]; ok {
			return c, nil
		}
		opts := []sdk.Opt{sdk.App(app), sdk.Tenant(cfg.Tenant), sdk.Environment("loadgen"), sdk.QueueSize(20000)}
		if len(cfg.Brokers) > 0 {
			opts = append(opts, sdk.Brokers(cfg.Brokers...))
		}
		if cfg.Topic != "" {
			opts = append(opts, sdk.Topic(cfg.Topic))
		}
		if cfg.TLS.Enabled {
			opts = append(opts, sdk.KafkaTLS(cfg.TLS))
		}
		if cfg.SASL.Mechanism != "" {
			opts = append(opts, sdk.KafkaSASL(cfg.SASL))
		}
		c, err := sdk.NewClient(opts...)
		if err != nil {
			return nil, err
		}
		clients[app] = c
		return c, nil
	}
	start := time.Now()
	var deadline time.Time
	if cfg.Count == 0 {
		deadline = start.Add(cfg.Duration)
	}
	n := 0
	for cfg.Count == 0 || n < cfg.Count {
		if cfg.Count == 0 && !time.Now().Before(deadline) {
			break
		}
		if cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(n) / cfg.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
					return Result{}, ctx.Err()
				case <-time.After(d):
				}
			}
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		phase := 0.0
		if cfg.Count > 0 {
			phase = float64(n) / float64(cfg.Count)
		} else {
			phase = float64(time.Since(start)) / float64(cfg.Duration)
		}
		app, call := g.NextIn(cfg.Now(), cfg.Scenario, phase)
		c, err := client(app)
		if err != nil {
			return Result{}, err
		}
		if err := c.RecordWait(ctx, &call); err != nil {
			return Result{}, err
		}
		n++
	}
	var res Result
	var firstErr error
	for app, c := range clients {
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err := c.Close(cctx)
		cancel()
		st := c.Stats()
		res.Produced += st.Sent
		res.Failed += st.Failed + st.Dropped + st.EncodeErrors
		if err != nil && firstErr == nil {
			firstErr = err
		}
		delete(clients, app)
	}
	if cfg.Invalid > 0 && firstErr == nil {
		if err := produceInvalid(ctx, cfg); err != nil {
			firstErr = err
		}
	}
	res.Elapsed = time.Since(start)
	if firstErr != nil {
		return res, firstErr
	}
	if res.Failed > 0 || res.Produced != int64(n) {
		return res, fmt.Errorf("loadgen: %d of %d events were not delivered", int64(n)-res.Produced, n)
	}
	return res, nil
}

// produceInvalid sends malformed records straight to the events topic,
// bypassing the SDK (which never produces invalid events).
func produceInvalid(ctx context.Context, cfg Config) error {
	topic := cfg.Topic
	if topic == "" {
		topic = broker.TopicEvents
	}
	k := kafkaconf.Config{Brokers: cfg.Brokers, TLS: cfg.TLS, SASL: cfg.SASL}
	sec, err := k.Opts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(sec, kgo.SeedBrokers(cfg.Brokers...), kgo.DefaultProduceTopic(topic))...)
	if err != nil {
		return fmt.Errorf("cannot create kafka client: %w", err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, cfg.Invalid)
	for i := range recs {
		var v []byte
		switch i % 3 {
		case 0:
			v = []byte("this is not a protobuf event \xff\xfe")
		case 1:
			b, _ := proto.Marshal(&eventpb.Event{SchemaVersion: 99, EventId: "0190c8e4-0000-7000-8000-000000000000", App: "x", Model: "m", Ts: timestamppb.Now()})
			v = b
		default:
			b, _ := proto.Marshal(&eventpb.Event{SchemaVersion: 1, EventId: "0190c8e4-0000-7000-8000-000000000001", Ts: timestamppb.Now()})
			v = b
		}
		recs[i] = &kgo.Record{Value: v}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("cannot produce invalid records: %w", err)
	}
	return nil
}

// Generator makes synthetic calls.
type Generator struct {
	r *rand.Rand
}

// New returns a generator for a seed.
func New(seed uint64) *Generator {
	return &Generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

type appProfile struct {
	name     string
	models   []string
	rag      float64 // share of calls with retrieved context
	ref      float64 // share with a reference answer
	system   string
	variants []string
}

var apps = []appProfile{
	{"support-bot", []string{"gpt-4o-mini", "gpt-4o"}, 0.3, 0.1,
		"You are a helpful customer support assistant for an online store. Be concise and polite.",
		[]string{"control", "empathetic-v2"}},
	{"search-rag", []string{"gpt-4o", "claude-3-5-sonnet"}, 0.95, 0.3,
		"Answer the question using only the provided documents. Cite the document you used.",
		[]string{"control", "rerank-v3"}},
	{"code-assistant", []string{"llama-3.1-70b-instruct", "gpt-4o-mini"}, 0.1, 0.05,
		"You are a senior software engineer. Answer with working code and a short explanation.",
		[]string{"control"}},
}

// Per-model latency (median ms, log-sd), price per 1k tokens (in, out).
var modelProfile = map[string]struct {
	medianMS, sigma, inPrice, outPrice float64
}{
	"gpt-4o-mini":            {650, 0.35, 0.00015, 0.0006},
	"gpt-4o":                 {1400, 0.4, 0.0025, 0.01},
	"claude-3-5-sonnet":      {1600, 0.4, 0.003, 0.015},
	"llama-3.1-70b-instruct": {900, 0.5, 0.0009, 0.0009},
}

var (
	topics = []struct{ q, a, doc string }{
		{"Where is my order #48213? It was supposed to arrive on Monday.",
			"I'm sorry for the delay. Your order shipped on Friday and is now with the local courier; it should arrive within two business days.",
			"Orders ship within 24 hours. Standard delivery takes 3 to 5 business days after shipping. Tracking updates may lag by one day."},
		{"Can I return a jacket I bought 45 days ago?",
			"Our return window is 30 days from delivery, so a return is no longer possible, but the jacket is still covered by the one-year warranty for defects.",
			"Items can be returned within 30 days of delivery for a full refund. All apparel carries a one-year warranty against manufacturing defects."},
		{"What is the capital of Australia and when did it become the capital?",
			"Canberra is the capital of Australia. It was chosen in 1908 and Parliament first met there in 1927.",
			"Canberra was selected as the site of Australia's capital in 1908. The federal Parliament moved from Melbourne to Canberra in 1927."},
		{"How do I reverse a linked list in Go?",
			"Iterate with three pointers: keep prev, move current.next to prev, then advance. The loop ends when current is nil and prev is the new head.",
			"A singly linked list can be reversed in place in O(n) time by re-pointing each node's next field to its predecessor."},
		{"Summarize the main causes of the 2008 financial crisis.",
			"The crisis grew from a housing bubble fed by subprime lending, securitization that spread the risk, high leverage at banks, and weak regulation of derivatives.",
			"Subprime mortgage lending expanded rapidly in the mid-2000s. Mortgage-backed securities and credit default swaps spread exposure across the financial system."},
		{"Which vitamin is produced when skin is exposed to sunlight?",
			"Vitamin D is produced in the skin when it is exposed to ultraviolet B light from the sun.",
			"Vitamin D3 is synthesized in the skin from 7-dehydrocholesterol upon exposure to UVB radiation."},
		{"Explain the difference between TCP and UDP in two sentences.",
			"TCP is connection-oriented and guarantees ordered, reliable delivery with retransmissions. UDP is connectionless and sends datagrams without delivery guarantees, which makes it faster and lighter.",
			"TCP provides reliable, ordered byte streams using acknowledgements and retransmission. UDP offers unreliable datagram delivery with minimal overhead."},
		{"My invoice shows a charge of 129.99 EUR twice. Can you fix it?",
			"I can see the duplicate charge of 129.99 EUR. I have opened a refund for the second charge; it will appear on your statement within five business days.",
			"Duplicate charges are refunded automatically after review. Refunds take 3 to 5 business days to appear on card statements."},
	}
	locales = []string{"en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "hi-IN"}
	tiers   = []string{"free", "pro", "enterprise"}
	filler  = []string{
		"Please answer in detail.", "Thanks in advance!", "I need this for a report.", "Keep it short.",
		"This is urgent.", "Could you also explain why?", "Use bullet points if helpful.", "",
	}
)

var (
	toxicAnswers = []string{
		"Shut up, you stupid idiot. Nobody cares about your worthless order, you pathetic moron.",
		"Shut the fuck up, you stupid bitch. Nobody gives a shit about your order.",
		"You are a worthless piece of shit and a fucking idiot, go away.",
	}
	refusals = []string{
		"I'm sorry, but I can't help with that request.",
		"I am unable to assist with this.",
		"Sorry, I cannot provide that information.",
	}
	driftTopic = "Also, separately: explain in depth how quantum error correction codes such as the surface code " +
		"protect logical qubits from decoherence, including syndrome measurement, thresholds and decoding algorithms."
)

// NextIn returns the next synthetic call of a scenario at phase in [0, 1).
func (g *Generator) NextIn(now time.Time, scenario string, phase float64) (string, sdk.Call) {
	r := g.r
	a := apps[r.IntN(len(apps))]
	model := a.models[r.IntN(len(a.models))]
	mp := modelProfile[model]
	t := topics[r.IntN(len(topics))]
	user := t.q + " " + filler[r.IntN(len(filler))]
	answer := t.a
	if r.Float64() < 0.5 {
		answer += " Let me know if there is anything else I can help with."
	}
	call := sdk.Call{
		Provider:     providerOf(model),
		Operation:    "chat",
		RequestModel: model,
		Model:        model,
		Variant:      a.variants[r.IntN(len(a.variants))],
		Prompt: []sdk.Message{
			{Role: "system", Content: a.system},
			{Role: "user", Content: user},
		},
		Completion:     []sdk.Message{{Role: "assistant", Content: answer, FinishReason: "stop"}},
		ConversationID: fmt.Sprintf("conv-%06d", r.IntN(50000)),
		UserID:         fmt.Sprintf("user-%05d", r.IntN(20000)),
		Segments:       map[string]string{"user.locale": locales[r.IntN(len(locales))], "user.tier": tiers[r.IntN(len(tiers))]},
	}
	if r.Float64() < a.rag {
		// The retrieved passage supports the answer (as in a working RAG
		// system); a second, unrelated passage rides along.
		call.Context = []string{t.doc + " " + t.a, topics[r.IntN(len(topics))].doc}
	}
	if r.Float64() < a.ref {
		call.Reference = t.a
	}
	call.InputTokens = int64(approxTokens(a.system) + approxTokens(user) + approxTokens(strings.Join(call.Context, " ")))
	call.OutputTokens = int64(approxTokens(answer))
	lat := mp.medianMS * math.Exp(mp.sigma*r.NormFloat64()) * (0.6 + float64(call.OutputTokens)/100)
	call.Duration = time.Duration(lat * float64(time.Millisecond))
	if r.Float64() < 0.6 {
		call.TTFT = time.Duration(lat * (0.15 + 0.1*r.Float64()) * float64(time.Millisecond))
	}
	call.CostUSD = float64(call.InputTokens)/1000*mp.inPrice + float64(call.OutputTokens)/1000*mp.outPrice
	if r.Float64() < 0.01 {
		call.Completion = nil
		call.OutputTokens = 0
		call.ErrorType = "rate_limit"
		call.ErrorMessage = "Rate limit reached for requests"
	}
	locale := call.Segments["user.locale"]
	switch scenario {
	case "drift":
		if a.name == "search-rag" && phase >= 0.5 {
			call.Duration = call.Duration * 16 / 10
			call.Prompt[1].Content += " " + driftTopic
			call.InputTokens += int64(approxTokens(driftTopic))
			call.OutputTokens = call.OutputTokens * 3 / 2
			if len(call.Completion) > 0 {
				c := call.Completion[0].Content
				call.Completion[0].Content = c + " " + c[:len(c)/2]
			}
		}
	case "toxicity-incident":
		if a.name == "support-bot" && phase >= 0.4 && phase < 0.7 && r.Float64() < 0.5 && call.ErrorType == "" {
			call.Completion = []sdk.Message{{Role: "assistant", Content: toxicAnswers[r.IntN(len(toxicAnswers))], FinishReason: "stop"}}
		}
	case "bias":
		rate := 0.03
		if locale == "hi-IN" {
			rate = 0.25
		}
		if call.ErrorType == "" && r.Float64() < rate {
			call.Completion = []sdk.Message{{Role: "assistant", Content: refusals[r.IntN(len(refusals))], FinishReason: "stop"}}
		}
	case "ab":
		if a.name == "support-bot" {
			rate := 0.02
			if call.Variant == "empathetic-v2" {
				rate = 0.10
				call.Duration = call.Duration * 13 / 10
			}
			if call.ErrorType == "" && r.Float64() < rate {
				call.Completion = []sdk.Message{{Role: "assistant", Content: refusals[r.IntN(len(refusals))], FinishReason: "stop"}}
			}
		}
	}
	call.Start = now.Add(-call.Duration)
	return a.name, call
}

func providerOf(model string) string {
	switch {
	case strings.HasPrefix(model, "gpt"):
		return "openai"
	case strings.HasPrefix(model, "claude"):
		return "anthropic"
	default:
		return "vllm"
	}
}

// approxTokens estimates tokens as ~4 characters each.
func approxTokens(s string) int { return (len(s) + 3) / 4 }
