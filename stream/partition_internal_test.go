package stream

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Our partitioner must agree with franz-go's Kafka-compatible one (murmur2,
// as the Java client), so a topology's repartition topics and sinks place
// keys as every Kafka producer does.
func TestPartitionForMatchesKafkaClients(t *testing.T) {
	if got := murmur2([]byte("21")); got != -973932308 { // Java UtilsTest.testMurmur2
		t.Fatalf("murmur2(21) = %d", got)
	}
	p := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for i := 0; i < 2000; i++ {
		key := []byte(fmt.Sprintf("key-%d-%s", i, "xyz"[:i%4]))
		for _, n := range []int{1, 3, 7, 64} {
			want := p.Partition(&kgo.Record{Key: key}, n)
			if got := partitionFor(key, int32(n)); int(got) != want {
				t.Fatalf("partitionFor(%q, %d) = %d, kgo says %d", key, n, got, want)
			}
		}
	}
}
