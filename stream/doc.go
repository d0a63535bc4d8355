// Package stream is Eddy's stream-processing library: a typed DSL for
// building topologies (filter, map, group, aggregate, windows, joins), a
// Processor API with state stores and punctuators, and a runtime that runs
// a topology over any Kafka-protocol cluster through franz-go (Eddy, Apache
// Kafka, Redpanda).
//
// A program builds a topology with a Builder, then runs it with an App:
//
//	b := stream.NewBuilder()
//	clicks := stream.From(b, "clicks", serde.String, serde.String)
//	clicks.Filter(func(user, page string) bool { return page != "" }).
//		GroupBy... // see the examples and docs/streams.md
//	top, err := b.Build()
//	app, err := stream.NewApp(top, stream.AppID("clicks"), stream.Brokers("127.0.0.1:9092"))
//	err = app.Run(ctx)
//
// Operators that keep the key and value types are methods (Filter, Peek,
// To, GroupByKey, ...); those that change a type are package functions
// (Map, MapValues, FlatMap, SelectKey, GroupBy, Aggregate, joins), because
// Go methods cannot have type parameters.
//
// Records flow between operators as typed values through functions chained
// when a task is created: no reflection and no interface boxing on the
// record path. Timestamps are milliseconds since the Unix epoch, as in
// Kafka.
//
// The package streamtest runs a topology in memory, without a broker, with
// controlled time: use it to test topologies.
package stream
