package aggregate

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	openWindows, keys, watermark, assigned          prometheus.Gauge
	lateEvents, latePartials, replayed, badPartials prometheus.Counter
	lateDropped, corrections                        prometheus.Counter
	overflow, signals, closed, retries, fetchErrors prometheus.Counter
	signalDuration                                  prometheus.Histogram
	lag, commitLag, rates                           *prometheus.GaugeVec
	findings                                        *prometheus.CounterVec
	droppedSeries                                   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: "sightline_aggregate_" + name, Help: help})
	}
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "sightline_aggregate_" + name, Help: help})
	}
	m := &metrics{
		openWindows:  g("open_windows", "Windows (key × window) held in memory."),
		keys:         g("keys", "Tracked keys (tenant/app/model/variant)."),
		watermark:    g("watermark_seconds", "Event-time watermark (the lowest of the owned partials partitions), Unix seconds."),
		assigned:     g("assigned_partitions", "Partitions of the partials topic this member owns."),
		lateEvents:   c("late_events_total", "Events whose partial arrived after its window was written (merged into a corrected version within the correction horizon)."),
		latePartials: c("late_partials_total", "Partials that arrived after their window was written."),
		lateDropped:  c("late_dropped_events_total", "Events of late partials beyond the correction horizon (counted, not merged)."),
		corrections:  c("corrected_windows_total", "Corrected versions of written windows (late partials merged in)."),
		replayed:     c("replayed_partials_total", "Partials of already written windows seen again after a restart (skipped)."),
		badPartials:  c("bad_partials_total", "Partials that could not be decoded or merged."),
		overflow:     c("key_overflow_total", "Partials folded into the overflow key because max_keys was reached."),
		signals:      c("signals_total", "Signal rows written."),
		closed:       c("windows_closed_total", "Windows closed and written."),
		retries:      c("retries_total", "Retried ClickHouse writes."),
		fetchErrors:  c("fetch_errors_total", "Errors fetching from Kafka."),
		signalDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sightline_aggregate_signal_compute_seconds", Help: "Time to compute the signals of one batch of closed windows.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
	}
	m.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sightline_aggregate_consumer_lag_records",
		Help: "Records of the partials topic not yet read, per owned partition: the end offset a read_committed consumer can reach minus the consumed position, refreshed every second."}, []string{"partition"})
	m.commitLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sightline_aggregate_commit_lag_records",
		Help: "Records of the partials topic after the committed offset, per owned partition (a restart reads them again; it trails by the open windows' partials by design)."}, []string{"partition"})
	m.rates = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sightline_signal_rate",
		Help: "The latest closed window's rate per tenant, app and outcome (toxicity, hallucination, refusal, pii, prompt_injection, error), over all models and variants. Capped at max_signal_series tenant/app pairs."},
		[]string{"tenant", "app", "outcome"})
	m.findings = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_signal_findings_total",
		Help: "Drift, bias and A/B findings (rows with a positive decision), by kind."}, []string{"kind"})
	m.droppedSeries = c("signal_series_dropped_total", "Signal gauge updates dropped because max_signal_series tenant/app pairs are exported.")
	for _, k := range []string{"drift", "bias", "ab"} {
		m.findings.WithLabelValues(k)
	}
	if reg != nil {
		reg.MustRegister(m.lag, m.commitLag, m.rates, m.findings, m.droppedSeries, m.assigned, m.lateDropped, m.corrections)
		reg.MustRegister(m.openWindows, m.keys, m.watermark, m.lateEvents, m.latePartials, m.replayed, m.badPartials,
			m.overflow, m.signals, m.closed, m.retries, m.fetchErrors, m.signalDuration)
	}
	return m
}
