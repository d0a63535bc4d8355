// Package interop holds Eddy's client interoperability tests: real Kafka
// clients, unchanged, produce and consume against the broker with every
// compression codec they support. The tests live in the _test.go files of
// this directory and are run with `go test ./interop/`; see README.md.
package interop
