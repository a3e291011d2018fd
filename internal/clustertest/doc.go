// Package clustertest runs Sightline against a real ClickHouse cluster on
// this machine (internal/testenv's StartCluster: 2 shards x 2 replicas of
// clickhouse-server and one ZooKeeper, stopped when each test ends).
//
// TestClusterMigrate checks the migrations ON CLUSTER, what they create on every
// host, where rows land, and their bad inputs. It runs in `make test`
// (about 45 s on two cores); without ZooKeeper it skips, except in CI
// (CI=true), where it fails.
//
// TestScaleOut runs the whole pipeline at scale: 200,000 loadgen events
// through 3 score and 2 aggregate processes into the cluster, with a score
// process, an aggregate process and a replica killed mid-stream, compared
// with one score and one aggregate process on one server. It takes about
// four minutes with both cores busy, so it runs only with
// SIGHTLINE_CLUSTER=1 (`make test-cluster`, or `make test` with it set).
// TestScaleOutBench measures events/s with 1, 2 and 3 score processes
// (SIGHTLINE_SCALE_BENCH=1, `make scale-bench`).
//
// It holds only tests.
package clustertest
