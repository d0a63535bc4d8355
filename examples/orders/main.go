// Command orders enriches orders with their customer: orders (keyed by
// order id) are rekeyed by customer id, joined with the customers table
// (a compacted topic keyed by customer id), and written to
// orders-enriched. Orders of unknown customers are kept with an empty
// customer (a left join).
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"strings"

	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
)

// Order is an order as produced by the shop.
type Order struct {
	ID       string  `json:"id"`
	Customer string  `json:"customer"`
	Amount   float64 `json:"amount"`
}

// Customer is a row of the customers table.
type Customer struct {
	Name    string `json:"name"`
	Country string `json:"country"`
}

// Enriched is an order with its customer.
type Enriched struct {
	Order
	CustomerName string `json:"customer_name"`
	Country      string `json:"country"`
	Known        bool   `json:"known_customer"`
}

func topology() (*stream.Topology, error) {
	b := stream.NewBuilder()
	customers := stream.TableFrom(b, "customers", serde.String, serde.JSON[Customer](), stream.Named("customers"))
	orders := stream.From(b, "orders", serde.String, serde.JSON[Order]())
	byCustomer := stream.SelectKey(orders, func(_ string, o Order) string { return o.Customer }).
		WithSerdes(serde.String, serde.JSON[Order]())
	stream.LeftJoin(byCustomer, customers, func(_ string, o Order, c Customer, found bool) Enriched {
		return Enriched{Order: o, CustomerName: c.Name, Country: c.Country, Known: found}
	}, stream.Named("orders-by-customer")).
		WithSerdes(serde.String, serde.JSON[Enriched]()).To("orders-enriched")
	return b.Build()
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "seed brokers, comma separated")
	app := flag.String("app", "orders-enrichment", "application id")
	eos := flag.Bool("exactly-once", false, "process each order exactly once (Kafka transactions)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	top, err := topology()
	if err != nil {
		log.Error("building topology", "err", err)
		os.Exit(1)
	}
	opts := []stream.AppOption{stream.AppID(*app), stream.Brokers(strings.Split(*brokers, ",")...), stream.Logger(log)}
	if *eos {
		opts = append(opts, stream.ExactlyOnce())
	}
	a, err := stream.NewApp(top, opts...)
	if err != nil {
		log.Error("starting", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := a.Run(ctx); err != nil {
		log.Error("stopped", "err", err)
		os.Exit(1)
	}
}
