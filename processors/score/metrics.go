package score

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/schemas"
)

type metrics struct {
	records     *prometheus.CounterVec
	dlq         *prometheus.CounterVec
	truncated   prometheus.Counter
	batchSize   prometheus.Histogram
	insertDur   prometheus.Histogram
	retries     *prometheus.CounterVec
	fetchErrors prometheus.Counter
	commits     prometheus.Counter
	aborts      prometheus.Counter
	lag         *prometheus.GaugeVec
	assigned    prometheus.Gauge
	lagListed   prometheus.Gauge

	detectorErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_score_records_total",
			Help: "Records consumed by the score stage, by result (stored, feedback, dlq).",
		}, []string{"result"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_score_dlq_total",
			Help: "Records sent to the dead-letter topic, by reason.",
		}, []string{"reason"}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sightline_score_truncated_total",
			Help: "Events stored with content cut to the size limit.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sightline_score_batch_size",
			Help:    "Events per ClickHouse insert.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		insertDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sightline_score_insert_duration_seconds",
			Help:    "Duration of successful ClickHouse inserts.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_score_retries_total",
			Help: "Retried operations, by target (clickhouse, dlq, commit).",
		}, []string{"target"}),
		fetchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sightline_score_fetch_errors_total",
			Help: "Errors fetching from Kafka.",
		}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sightline_score_commits_total",
			Help: "Offset commits after successful batches.",
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sightline_score_consumer_lag_records",
			Help: "Records of the events topic not yet scored and committed, per owned partition: the broker's end offset minus the committed offset, refreshed every progress_interval whether or not fetches happen.",
		}, []string{"partition"}),
		lagListed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sightline_score_consumer_lag_listed_timestamp_seconds",
			Help: "When the end offsets behind sightline_score_consumer_lag_records were listed (Unix seconds): how old the lag figure is.",
		}),
		assigned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sightline_score_assigned_partitions",
			Help: "Partitions of the events topic this member owns.",
		}),
		aborts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sightline_score_transaction_aborts_total",
			Help: "Batches whose Kafka transaction aborted (rebalance or fencing); they are consumed again.",
		}),
		detectorErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_score_detector_errors_total",
			Help: "Events on which a detector failed (its scores are stored as NULL), by detector.",
		}, []string{"detector"}),
	}
	for _, r := range []schemas.Reason{schemas.ReasonDecode, schemas.ReasonSchemaVersion, schemas.ReasonMissingField, schemas.ReasonInvalidField, schemas.ReasonTooLarge} {
		m.dlq.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(m.records, m.dlq, m.truncated, m.batchSize, m.insertDur, m.retries, m.fetchErrors, m.commits, m.aborts, m.detectorErrors, m.lag, m.assigned, m.lagListed)
	}
	return m
}
