// Package clustertest runs Sightline against a real ClickHouse cluster on
// this machine (internal/testenv's StartCluster: 2 shards x 2 replicas of
// clickhouse-server and one ZooKeeper, stopped when each test ends): the
// migrations ON CLUSTER, what they create on every host, where rows land,
// and their bad inputs. It runs in `make test` (about 45 s on two cores);
// without ZooKeeper it skips, except in CI (CI=true), where it fails.
//
// It holds only tests.
package clustertest
