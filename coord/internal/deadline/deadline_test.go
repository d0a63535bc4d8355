package deadline

import (
	"testing"
	"time"
)

func TestQueue(t *testing.T) {
	var q Queue[string]
	timers := map[string]*Timer{"a": {}, "b": {}, "c": {}}
	lookup := func(k string) *Timer { return timers[k] }
	t0 := time.Unix(1000, 0)
	q.Arm(timers["a"], t0.Add(3*time.Second), "a")
	q.Arm(timers["b"], t0.Add(1*time.Second), "b")
	q.Arm(timers["c"], t0.Add(2*time.Second), "c")
	q.Arm(timers["b"], t0.Add(5*time.Second), "b") // re-arm: the 1 s entry goes stale
	q.Disarm(timers["c"])
	if at, ok := q.Next(lookup); !ok || !at.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("Next = %v %v, want a at +3s", at, ok)
	}
	if _, _, ok := q.PopDue(t0.Add(2*time.Second), lookup); ok {
		t.Fatal("nothing is due at +2s")
	}
	var got []string
	for {
		k, _, ok := q.PopDue(t0.Add(10*time.Second), lookup)
		if !ok {
			break
		}
		got = append(got, k)
		if timers[k].Armed() {
			t.Fatalf("%s still armed after firing", k)
		}
	}
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("fired %v, want [a b]", got)
	}
	if _, ok := q.Next(lookup); ok {
		t.Fatal("a deadline is left")
	}
	// An owner that is gone is skipped.
	q.Arm(timers["a"], t0, "a")
	delete(timers, "a")
	if _, _, ok := q.PopDue(t0.Add(time.Hour), lookup); ok {
		t.Fatal("fired a timer whose owner is gone")
	}
}

func TestQueueCompact(t *testing.T) {
	var q Queue[int]
	tm := &Timer{}
	lookup := func(int) *Timer { return tm }
	t0 := time.Unix(0, 0)
	for i := 0; i < 1000; i++ { // a heartbeat re-arming one session timer
		q.Arm(tm, t0.Add(time.Duration(i)*time.Second), 0)
		q.Compact(lookup)
	}
	if n := q.Len(); n > 130 {
		t.Fatalf("%d entries for one live timer: stale entries are not dropped", n)
	}
	if at, ok := q.Next(lookup); !ok || !at.Equal(t0.Add(999*time.Second)) {
		t.Fatalf("Next = %v %v", at, ok)
	}
}
