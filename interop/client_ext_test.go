package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The clients below run as separate programs: kcat, Python scripts under
// py/ and a Node script under js/. .ci/install-interop.sh installs them.

// pythonBin is Debian's interpreter: python3-kafka and
// python3-confluent-kafka import only there, not in another python3 that
// may come first on PATH.
func pythonBin() string {
	if p := os.Getenv("EDDY_INTEROP_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// runJSON runs a program that reads one JSON request on stdin and writes
// one JSON response on stdout. ctx bounds it: the program is killed when
// ctx ends.
func runJSON(ctx context.Context, req, resp any, dir, name string, args ...string) error {
	in, err := json.Marshal(req)
	if err != nil {
		return err
	}
	out, err := runCmd(ctx, in, dir, name, args...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, resp); err != nil {
		return fmt.Errorf("%s: bad response: %v: %.300q", name, err, out)
	}
	return nil
}

// runCmd runs a command with stdin, returning its stdout, or an error with
// the end of its stderr.
func runCmd(ctx context.Context, stdin []byte, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return stdout.Bytes(), fmt.Errorf("%s %s: %w; stderr: %s", name, strings.Join(args, " "), err, tail(stderr.Bytes(), 3000))
	}
	return stdout.Bytes(), nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = append([]byte("…"), b[len(b)-n:]...)
	}
	return strings.TrimSpace(string(b))
}

// scriptClient is a client driven by a script speaking the JSON protocol
// of produceRequest/consumeRequest (see py/common.py):
//
//	{"op": "probe"}                                   -> {"ok": true, ...}
//	{"op": "produce", "bootstrap": ..., "jobs": [...]} -> {"results": {topic: produceResult}}
//	{"op": "consume", "bootstrap": ..., "jobs": [...]} -> {"results": {id: consumeResult}}
type scriptClient struct {
	dir  string   // working directory, relative to this package
	argv []string // program and arguments
}

type scriptRequest struct {
	Op        string `json:"op"`
	Bootstrap string `json:"bootstrap,omitempty"`
	Jobs      any    `json:"jobs,omitempty"`
	// JobTimeoutMS bounds one job inside the script.
	JobTimeoutMS int64 `json:"job_timeout_ms,omitempty"`
}

func (s scriptClient) run(ctx context.Context, req scriptRequest, resp any) error {
	dir, err := filepath.Abs(s.dir)
	if err != nil {
		return err
	}
	req.JobTimeoutMS = jobTimeout.Milliseconds()
	return runJSON(ctx, req, resp, dir, s.argv[0], s.argv[1:]...)
}

func (s scriptClient) probe(ctx context.Context) error {
	if _, err := exec.LookPath(s.argv[0]); err != nil {
		return err
	}
	var resp struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := s.run(ctx, scriptRequest{Op: "probe"}, &resp); err != nil {
		return err
	}
	if !resp.OK {
		return errors.New(resp.Error)
	}
	return nil
}

func (s scriptClient) produce(ctx context.Context, bootstrap string, jobs []produceJob) (map[string]produceResult, error) {
	var resp struct {
		Results map[string]produceResult `json:"results"`
	}
	err := s.run(ctx, scriptRequest{Op: "produce", Bootstrap: bootstrap, Jobs: jobs}, &resp)
	return resp.Results, err
}

func (s scriptClient) consume(ctx context.Context, bootstrap string, jobs []consumeJob) (map[string]consumeResult, error) {
	var resp struct {
		Results map[string]consumeResult `json:"results"`
	}
	err := s.run(ctx, scriptRequest{Op: "consume", Bootstrap: bootstrap, Jobs: jobs}, &resp)
	return resp.Results, err
}

func newScriptClient(name string, hm headerMode, excluded map[string]string, s scriptClient) *client {
	return &client{
		name:       name,
		excluded:   excluded,
		headers:    hm,
		timestamps: true,
		probe:      s.probe,
		produce:    s.produce,
		consume:    s.consume,
	}
}

// kafka-python (Debian python3-kafka), with python3-snappy, python3-lz4
// and python3-zstandard for its codecs.
var kafkaPythonClient = newScriptClient("kafka-python", headersPerRecord, nil,
	scriptClient{dir: "py", argv: []string{pythonBin(), "kafka_python_client.py"}})

// confluent-kafka (Debian python3-confluent-kafka, on librdkafka).
var confluentKafkaClient = newScriptClient("confluent-kafka", headersPerRecord, nil,
	scriptClient{dir: "py", argv: []string{pythonBin(), "confluent_kafka_client.py"}})

// kafkajs (npm, js/package-lock.json). It has gzip built in; js/client.js
// plugs in snappy (kafkajs-snappy), lz4 (lz4js) and zstd (zstd-codec), all
// pure JavaScript/WebAssembly, so `npm ci` needs no native build.
var kafkajsClient = newScriptClient("kafkajs", headersPerRecord, nil,
	scriptClient{dir: "js", argv: []string{"node", "client.js"}})
