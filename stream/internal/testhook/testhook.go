// Package testhook connects package streamtest to the stream runtime's
// in-memory runner without making the runner part of stream's API.
package testhook

import (
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Config configures an in-memory runner.
type Config struct {
	AppID      string
	Partitions int32
	Policy     int
	DLQ        string
	WallStart  int64
	Logger     *slog.Logger
}

// Runner runs a topology in memory.
type Runner interface {
	// Pipe feeds one record to the source topic r.Topic (partition chosen
	// by key when r.Partition < 0) and processes everything it causes.
	Pipe(r *kgo.Record) error
	// Records returns every record written to topic so far, in order.
	Records(topic string) []*kgo.Record
	// AdvanceWallClock moves the wall clock and runs due punctuators.
	AdvanceWallClock(ms int64) error
	// EndInput ends the input of every task, as at the end of a bounded
	// run: stream time goes to the end of time.
	EndInput() error
	// WallClock returns the wall clock in ms.
	WallClock() int64
	// Store returns the store name of the task for partition (typed as
	// the stream package's store interfaces).
	Store(name string, partition int32) (any, error)
	// Restart closes every task and recreates it, restoring its stores
	// from their changelog records.
	Restart() error
	// Metrics returns the runner's *stream.Metrics.
	Metrics() any
	Close() error
}

// NewRunner is set by package stream.
var NewRunner func(topology any, cfg Config) (Runner, error)
