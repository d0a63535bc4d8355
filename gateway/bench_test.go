package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/gateway"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// BenchmarkGatewayProduce measures the HTTP gateway's produce path end to
// end on loopback: concurrent clients POST JSON records (one per request,
// or batches of 100), the gateway produces them to a real broker (fsync
// on, acks=all), answers with their offsets. Reported: requests/s and
// records/s.
//
//	go test -run NONE -bench GatewayProduce -benchtime 5s ./gateway/
func BenchmarkGatewayProduce(b *testing.B) {
	for _, c := range []struct{ batch, producers int }{{1, 1}, {1, 4}, {100, 1}, {100, 4}} {
		batch := c.batch
		b.Run(fmt.Sprintf("batch=%d/producers=%d", batch, c.producers), func(b *testing.B) {
			br := testbroker.Start(b, broker.WithConfig(map[string]string{"auto.create.topics.enable": "false"}))
			gw, err := gateway.New(gateway.WithBrokers(br.Addr()), gateway.WithLogger(testbroker.Logger(b)), gateway.WithProducers(c.producers))
			if err != nil {
				b.Fatal(err)
			}
			defer gw.Close()
			srv := &http.Server{Handler: gw.Handler()}
			ln := listen(b)
			go srv.Serve(ln)
			defer srv.Close()
			url := "http://" + ln.Addr().String()
			if resp, err := http.Post(url+"/api/v1/topics", "application/json", strings.NewReader(`{"name":"bench","partitions":6}`)); err != nil || resp.StatusCode != 201 {
				b.Fatalf("create topic: %v %v", resp, err)
			}
			var body bytes.Buffer
			body.WriteString(`{"records":[`)
			for i := 0; i < batch; i++ {
				if i > 0 {
					body.WriteString(",")
				}
				fmt.Fprintf(&body, `{"key":"user-%d","value":{"user":"user-%d","page":"/product/%d","action":"view","ts":1700000000000}}`, i, i, i%50)
			}
			body.WriteString(`]}`)
			payload := body.Bytes()
			tr := &http.Transport{MaxIdleConnsPerHost: 256}
			client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			defer tr.CloseIdleConnections()
			b.SetParallelism(16) // 32 clients on 2 cores
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Post(url+"/api/v1/topics/bench/records", "application/json", bytes.NewReader(payload))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			secs := time.Since(start).Seconds()
			b.ReportMetric(float64(b.N)/secs, "req/s")
			b.ReportMetric(float64(b.N*batch)/secs, "records/s")
		})
	}
}

func listen(tb testing.TB) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}
