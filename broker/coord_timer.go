package broker

import (
	"context"
	"time"
)

// deadlines drives an I/O-free coordinator's timers: run calls fire at the
// coordinator's next deadline, and poke makes it look again after a call
// that may have armed an earlier one. The group and transaction
// coordinators share it.
type deadlines struct {
	wake chan struct{}
}

func newDeadlines() deadlines { return deadlines{wake: make(chan struct{}, 1)} }

func (d deadlines) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// run calls fire whenever the deadline next returns has passed, until ctx
// ends. next and fire do their own locking.
func (d deadlines) run(ctx context.Context, next func() (time.Time, bool), fire func()) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := time.Hour
		if at, ok := next(); ok {
			wait = max(time.Until(at), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
			if !timer.Stop() {
				<-timer.C
			}
			continue
		case <-timer.C:
		}
		fire()
	}
}
