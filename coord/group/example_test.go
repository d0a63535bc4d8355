package group_test

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/coord/group"
)

// A broker serializes calls, appends each Output's records to
// __consumer_offsets, and only then sends its replies; it Ticks at
// NextDeadline.
func Example() {
	cfg := group.DefaultConfig()
	cfg.InitialRebalanceDelay = 0
	cfg.NewMemberID = func(prefix string) string { return prefix + "-1" } // instead of a random UUID
	c, err := group.New(cfg)
	if err != nil {
		panic(err)
	}
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

	errName := func(code int16) string {
		if err := kerr.ErrorForCode(code); err != nil {
			return err.(*kerr.Error).Message
		}
		return "ok"
	}
	deliver := func(out group.Output) {
		for range out.Records {
			// append to __consumer_offsets and wait until durable
		}
		for _, r := range out.Replies {
			switch resp := r.Response.(type) {
			case *kmsg.JoinGroupResponse:
				fmt.Printf("%v: join %s member=%s gen=%d\n", r.To, errName(resp.ErrorCode), resp.MemberID, resp.Generation)
			case *kmsg.SyncGroupResponse:
				fmt.Printf("%v: sync %s assignment=%q\n", r.To, errName(resp.ErrorCode), resp.MemberAssignment)
			}
		}
	}

	join := kmsg.NewPtrJoinGroupRequest()
	join.Version = 9
	join.Group = "orders"
	join.SessionTimeoutMillis = 45000
	join.RebalanceTimeoutMillis = 60000
	join.ProtocolType = "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte("...")}}
	client := group.Client{ID: "consumer-1", Host: "/10.0.0.7"}

	out := c.JoinGroup(now, client, join, "request 1")
	deliver(out) // MEMBER_ID_REQUIRED, with the id to use
	join.MemberID = out.Replies[0].Response.(*kmsg.JoinGroupResponse).MemberID
	deliver(c.JoinGroup(now, client, join, "request 2"))

	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Version = 5
	sync.Group, sync.MemberID, sync.Generation = "orders", join.MemberID, 1
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: join.MemberID, MemberAssignment: []byte("all of it")}}
	deliver(c.SyncGroup(now, sync, "request 3"))

	at, _ := c.NextDeadline()
	fmt.Println("next Tick in", at.Sub(now))
	// Output:
	// request 1: join MEMBER_ID_REQUIRED member=consumer-1-1 gen=-1
	// request 2: join ok member=consumer-1-1 gen=1
	// request 3: sync ok assignment="all of it"
	// next Tick in 45s
}
