package stream_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/stream"
	"github.com/eddy-streaming/eddy/stream/serde"
	"github.com/eddy-streaming/eddy/stream/streamtest"
)

func TestStreamTableJoins(t *testing.T) {
	b := stream.NewBuilder()
	customers := stream.TableFrom(b, "customers", serde.String, serde.String, stream.Named("customers"))
	orders := stream.From(b, "orders", serde.String, serde.Int64)
	stream.Join(orders, customers, func(id string, amount int64, name string) string {
		return fmt.Sprintf("%s:%d", name, amount)
	}).WithSerdes(serde.String, serde.String).To("enriched")
	stream.LeftJoin(orders, customers, func(id string, amount int64, name string, found bool) string {
		if !found {
			name = "?"
		}
		return fmt.Sprintf("%s:%d", name, amount)
	}).WithSerdes(serde.String, serde.String).To("enriched-left")
	// Rekeyed orders are repartitioned before the join.
	rekeyed := stream.SelectKey(orders, func(k string, _ int64) string { return strings.TrimSuffix(k, "-x") }).WithSerdes(serde.String, serde.Int64)
	stream.Join(rekeyed, customers, func(id string, amount int64, name string) string { return name }).
		WithSerdes(serde.String, serde.String).To("rekeyed")
	d := streamtest.New(t, build(t, b), streamtest.Partitions(2))
	cs := streamtest.Input(d, "customers", serde.String, serde.String)
	os := streamtest.Input(d, "orders", serde.String, serde.Int64)
	cs.Pipe("c1", "ann", 1)
	os.Pipe("c1", 10, 2)
	os.Pipe("c2", 20, 3) // no customer yet
	cs.Pipe("c2", "bob", 4)
	os.Pipe("c2", 30, 5)
	cs.PipeTombstone("c1", 6)
	os.Pipe("c1", 40, 7)
	os.Pipe("c2-x", 50, 8)
	equal(t, streamtest.Output(d, "enriched", serde.String, serde.String).ReadKeyValues(),
		[]stream.KeyValue[string, string]{kv("c1", "ann:10"), kv("c2", "bob:30")})
	equal(t, streamtest.Output(d, "enriched-left", serde.String, serde.String).ReadKeyValues(),
		[]stream.KeyValue[string, string]{kv("c1", "ann:10"), kv("c2", "?:20"), kv("c2", "bob:30"), kv("c1", "?:40"), kv("c2-x", "?:50")})
	equal(t, streamtest.Output(d, "rekeyed", serde.String, serde.String).ReadKeyValues(),
		[]stream.KeyValue[string, string]{kv("c1", "ann"), kv("c2", "bob"), kv("c2", "bob")})
}

func TestGlobalTableJoin(t *testing.T) {
	b := stream.NewBuilder()
	products := stream.GlobalTableFrom(b, "products", serde.String, serde.String)
	clicks := stream.From(b, "clicks", serde.String, serde.String) // user -> product id
	stream.JoinGlobal(clicks, products, func(_ string, pid string) string { return pid },
		func(user, pid, name string) string { return user + " viewed " + name }).
		WithSerdes(serde.String, serde.String).To("views")
	stream.LeftJoinGlobal(clicks, products, func(_ string, pid string) string { return pid },
		func(user, pid, name string, found bool) string { return fmt.Sprint(found) }).
		WithSerdes(serde.String, serde.String).To("found")
	d := streamtest.New(t, build(t, b), streamtest.Partitions(3))
	ps := streamtest.Input(d, "products", serde.String, serde.String)
	cl := streamtest.Input(d, "clicks", serde.String, serde.String)
	ps.Pipe("p1", "lamp", 1)
	ps.Pipe("p2", "desk", 1)
	for i, u := range []string{"u1", "u2", "u3", "u4"} {
		cl.Pipe(u, []string{"p1", "p2", "p3", "p1"}[i], int64(2+i))
	}
	got := streamtest.Output(d, "views", serde.String, serde.String).ReadKeyValues()
	equal(t, len(got), 3)
	equal(t, got[1], kv("u2", "u2 viewed desk"))
	found := streamtest.Output(d, "found", serde.String, serde.String).ReadKeyValues()
	equal(t, found[2], kv("u3", "false"))
	// The global table survives a restart (loaded from its topic).
	d.Restart()
	cl.Pipe("u5", "p2", 10)
	equal(t, streamtest.Output(d, "views", serde.String, serde.String).ReadKeyValues()[3], kv("u5", "u5 viewed desk"))
}

func streamJoinTopology(t *testing.T, kind string) *stream.Topology {
	b := stream.NewBuilder()
	l := stream.From(b, "left", serde.String, serde.String)
	r := stream.From(b, "right", serde.String, serde.String)
	w := stream.JoinWindow(10 * time.Millisecond).Grace(5 * time.Millisecond)
	var out *stream.Stream[string, string]
	switch kind {
	case "inner":
		out = stream.JoinStreams(l, r, w, func(k, a, b string) string { return a + "+" + b })
	case "left":
		out = stream.LeftJoinStreams(l, r, w, func(k, a, b string, ok bool) string {
			if !ok {
				b = "null"
			}
			return a + "+" + b
		})
	case "outer":
		out = stream.OuterJoinStreams(l, r, w, func(k, a string, ok1 bool, b string, ok2 bool) string {
			if !ok1 {
				a = "null"
			}
			if !ok2 {
				b = "null"
			}
			return a + "+" + b
		})
	}
	out.WithSerdes(serde.String, serde.String).To("out")
	return build(t, b)
}

func TestStreamStreamJoins(t *testing.T) {
	run := func(kind string) (*streamtest.Driver, []string) {
		d := streamtest.New(t, streamJoinTopology(t, kind))
		l := streamtest.Input(d, "left", serde.String, serde.String)
		r := streamtest.Input(d, "right", serde.String, serde.String)
		l.Pipe("k", "L1", 100)
		r.Pipe("k", "R1", 105) // joins L1
		r.Pipe("k", "R2", 111) // 11ms after L1: no join
		l.Pipe("x", "LX", 112) // never matched
		r.Pipe("y", "RY", 113) // never matched
		l.Pipe("k", "L2", 102) // out of order, within grace: joins R1 (and not R2: 9ms... 111-102=9 joins too)
		l.Pipe("z", "LZ", 200) // closes everything up to 200-15
		l.Pipe("k", "L0", 80)  // too late
		var got []string
		for _, kv := range streamtest.Output(d, "out", serde.String, serde.String).ReadRecords() {
			got = append(got, fmt.Sprintf("%s=%s@%d", kv.Key, kv.Value, kv.Timestamp))
		}
		return d, got
	}
	t.Run("inner", func(t *testing.T) {
		d, got := run("inner")
		equal(t, got, []string{"k=L1+R1@105", "k=L2+R1@105", "k=L2+R2@111"})
		if d.Metrics().LateRecords.Load() != 1 {
			t.Fatal("late record not counted")
		}
	})
	t.Run("left", func(t *testing.T) {
		_, got := run("left")
		equal(t, got, []string{"k=L1+R1@105", "k=L2+R1@105", "k=L2+R2@111", "x=LX+null@112"})
	})
	t.Run("outer", func(t *testing.T) {
		_, got := run("outer")
		equal(t, got, []string{"k=L1+R1@105", "k=L2+R1@105", "k=L2+R2@111", "x=LX+null@112", "y=null+RY@113"})
	})
}

func TestTableTableJoins(t *testing.T) {
	for _, kind := range []string{"inner", "left", "outer"} {
		t.Run(kind, func(t *testing.T) {
			b := stream.NewBuilder()
			a := stream.TableFrom(b, "a", serde.String, serde.String)
			c := stream.TableFrom(b, "b", serde.String, serde.String)
			f := func(k, x string, ok1 bool, y string, ok2 bool) string {
				if !ok1 {
					x = "-"
				}
				if !ok2 {
					y = "-"
				}
				return x + y
			}
			var out *stream.Table[string, string]
			switch kind {
			case "inner":
				out = stream.JoinTables(a, c, func(k, x, y string) string { return f(k, x, true, y, true) }, serde.String)
			case "left":
				out = stream.LeftJoinTables(a, c, func(k, x, y string, ok bool) string { return f(k, x, true, y, ok) }, serde.String)
			case "outer":
				out = stream.OuterJoinTables(a, c, f, serde.String)
			}
			out.To("out")
			d := streamtest.New(t, build(t, b))
			ia := streamtest.Input(d, "a", serde.String, serde.String)
			ib := streamtest.Input(d, "b", serde.String, serde.String)
			ia.Pipe("k", "a1", 1)
			ib.Pipe("k", "b1", 2)
			ib.Pipe("j", "b2", 3)
			ia.PipeTombstone("k", 4)
			var got []string
			for _, r := range d.Records("out") {
				v := string(r.Value)
				if r.Value == nil {
					v = "<deleted>"
				}
				got = append(got, string(r.Key)+"="+v)
			}
			want := map[string][]string{
				"inner": {"k=a1b1", "k=<deleted>"},
				"left":  {"k=a1-", "k=a1b1", "k=<deleted>"},
				"outer": {"k=a1-", "k=a1b1", "j=-b2", "k=-b1"},
			}[kind]
			equal(t, got, want)
		})
	}
}
