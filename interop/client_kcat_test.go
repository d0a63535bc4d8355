package interop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// kcat (Debian kcat, on librdkafka). Its producer reads records from stdin,
// key and value split by -K, records by -D; it cannot set a record's
// timestamp and takes headers (-H) for all records at once.
var kcatClient = &client{
	name:       "kcat",
	headers:    headersFixed,
	timestamps: false,
	probe:      kcatProbe,
	produce:    kcatProduce,
	consume: func(ctx context.Context, bootstrap string, jobs []consumeJob) (map[string]consumeResult, error) {
		return consumeEach(ctx, jobs, func(ctx context.Context, j consumeJob) ([]wireRecord, error) {
			return kcatRead(ctx, bootstrap, j)
		}), nil
	},
}

// Delimiters for kcat's producer input; makeRecords' data never holds them.
const (
	kcatKeyDelim = "|EDDY-INTEROP-KEY|"
	kcatMsgDelim = "|EDDY-INTEROP-END-OF-RECORD|"
)

func kcatProbe(ctx context.Context) error {
	if _, err := exec.LookPath("kcat"); err != nil {
		return err
	}
	out, err := runCmd(ctx, nil, "", "kcat", "-V")
	if err != nil {
		return err
	}
	for _, codec := range []string{"gzip", "snappy", "lz4", "zstd"} {
		if !bytes.Contains(out, []byte(codec)) {
			return fmt.Errorf("kcat's librdkafka lacks %s: %s", codec, out)
		}
	}
	return nil
}

func kcatProduce(ctx context.Context, bootstrap string, jobs []produceJob) (map[string]produceResult, error) {
	out := make(map[string]produceResult, len(jobs))
	for _, j := range jobs {
		var res produceResult
		split, err := kcatProduceJob(ctx, bootstrap, j)
		if err != nil {
			res.Error = err.Error()
		}
		res.SplitTS = split
		out[j.Topic] = res
	}
	return out, nil
}

// kcatProduceJob produces the records before splitAt with one kcat run and
// the rest with another, started only once the clock has passed the time it
// returns: librdkafka stamps each record when it is produced, so the first
// records have timestamps before it and the others at or after it.
func kcatProduceJob(ctx context.Context, bootstrap string, j produceJob) (int64, error) {
	if err := kcatRun(ctx, bootstrap, j, j.Records[:splitAt]); err != nil {
		return 0, err
	}
	split := time.Now().UnixMilli() + 1
	for time.Now().UnixMilli() < split {
		time.Sleep(time.Millisecond)
	}
	if err := kcatRun(ctx, bootstrap, j, j.Records[splitAt:]); err != nil {
		return 0, err
	}
	return split, nil
}

func kcatRun(ctx context.Context, bootstrap string, j produceJob, recs []wireRecord) error {
	var in bytes.Buffer
	for _, r := range recs {
		for _, b := range [][]byte{r.Key, r.Value} {
			if bytes.Contains(b, []byte(kcatKeyDelim)) || bytes.Contains(b, []byte(kcatMsgDelim)) {
				return fmt.Errorf("test data holds a kcat delimiter: %q", b)
			}
		}
		if !headersEqual(r.Headers, fixedHeaders) {
			return errors.New("kcat sets the same headers on every record")
		}
		in.Write(r.Key)
		in.WriteString(kcatKeyDelim)
		in.Write(r.Value)
		in.WriteString(kcatMsgDelim)
	}
	args := []string{"-P", "-b", bootstrap, "-t", j.Topic, "-p", "0", "-z", j.Codec,
		"-K", kcatKeyDelim, "-D", kcatMsgDelim, "-m", "10",
		"-X", "acks=all", "-X", "message.timeout.ms=30000"}
	for _, h := range fixedHeaders {
		args = append(args, "-H", h.Key+"="+string(h.Value))
	}
	ctx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	_, err := runCmd(ctx, in.Bytes(), "", "kcat", args...)
	return err
}

// kcatFormat prints per record a line "offset timestamp keylen valuelen
// headers", then key and value bytes as they are, then a newline.
const kcatFormat = `%o %T %K %S %h\n%k%s\n`

func kcatRead(ctx context.Context, bootstrap string, j consumeJob) ([]wireRecord, error) {
	offset := "beginning"
	if j.From == fromTimestamp {
		offset = "s@" + strconv.FormatInt(j.Timestamp, 10)
	}
	out, err := runCmd(ctx, nil, "", "kcat", "-C", "-b", bootstrap, "-t", j.Topic, "-p", "0",
		"-o", offset, "-e", "-m", "10", "-f", kcatFormat,
		// kcat -e exits on the empty fetch at the end of the partition;
		// don't let it wait the default 500 ms for more.
		"-X", "fetch.wait.max.ms=100")
	if err != nil {
		return nil, err
	}
	return parseKcat(out)
}

func parseKcat(out []byte) ([]wireRecord, error) {
	var recs []wireRecord
	br := bufio.NewReader(bytes.NewReader(out))
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF && line == "" {
			return recs, nil
		}
		if err != nil {
			return recs, fmt.Errorf("kcat output: %v after %d records", err, len(recs))
		}
		f := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 5)
		if len(f) != 5 {
			return recs, fmt.Errorf("kcat output: bad record line %q", line)
		}
		var n [4]int64
		for i := range n {
			if n[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
				return recs, fmt.Errorf("kcat output: bad record line %q", line)
			}
		}
		r := wireRecord{Offset: n[0], Timestamp: n[1]}
		if r.Key, err = readN(br, n[2]); err != nil {
			return recs, err
		}
		if r.Value, err = readN(br, n[3]); err != nil {
			return recs, err
		}
		if nl, err := br.ReadByte(); err != nil || nl != '\n' {
			return recs, fmt.Errorf("kcat output: record at offset %d not followed by a newline", r.Offset)
		}
		if f[4] != "" {
			// "n=v,n=v": the test's header names and values hold no ',' or '='.
			for _, kv := range strings.Split(f[4], ",") {
				k, v, _ := strings.Cut(kv, "=")
				r.Headers = append(r.Headers, wireHeader{Key: k, Value: []byte(v)})
			}
		}
		recs = append(recs, r)
	}
}

// readN reads a key or value of length n; -1 is null.
func readN(br *bufio.Reader, n int64) ([]byte, error) {
	if n < 0 {
		return nil, nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, fmt.Errorf("kcat output: short key or value: %v", err)
	}
	return b, nil
}
