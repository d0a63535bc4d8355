package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"text/tabwriter"
	"time"
)

// DiskConfig parameterises DiskBaseline. Zero values select the defaults.
type DiskConfig struct {
	// Dir is the directory to write the scratch files in; default
	// os.TempDir(). Point it at the broker's data directory to compare
	// like with like.
	Dir string
	// TotalBytes is the volume written by each run; default 256 MiB.
	TotalBytes int64
	// ChunkBytes is the size of each write; default 1 MiB.
	ChunkBytes int
	// SyncEveryBytes is the fdatasync interval of the group-commit run;
	// default 4 MiB.
	SyncEveryBytes int64
	// Duration, when positive, adds a sustained run: fdatasync every
	// SyncEveryBytes for this long. Short runs of TotalBytes measure a
	// burst, which caches below the filesystem (a VM host's, a disk's)
	// can absorb; a run as long as the broker's measures what the disk
	// keeps up with.
	Duration time.Duration
}

// DiskRun is the outcome of one sequential write run.
type DiskRun struct {
	// SyncEveryBytes is the fdatasync interval; 0 means a single sync at
	// the end.
	SyncEveryBytes int64
	// Bytes is the volume written.
	Bytes int64
	// Sustained marks the run of DiskConfig.Duration.
	Sustained bool
	// Syncs is the number of fdatasync calls made.
	Syncs int
	// Elapsed covers every write and sync.
	Elapsed time.Duration
	// MBPerSec is the written volume over Elapsed.
	MBPerSec float64
	// SyncLatency summarises the duration of the fdatasync calls.
	SyncLatency LatencySummary
}

// DiskResult is the outcome of DiskBaseline.
type DiskResult struct {
	// Dir is the directory the scratch files were written in.
	Dir string
	// TotalBytes is the volume written by each run.
	TotalBytes int64
	// ChunkBytes is the size of each write call.
	ChunkBytes int
	// FSType names the filesystem when it is notable (e.g. "tmpfs", whose
	// figures say nothing about a disk); empty otherwise.
	FSType string
	// SyncAtEnd writes everything, then calls fdatasync once.
	SyncAtEnd DiskRun
	// GroupCommit calls fdatasync every SyncEveryBytes, approximating a
	// broker that group-commits appends.
	GroupCommit DiskRun
	// Sustained is the run of DiskConfig.Duration; nil without one.
	Sustained *DiskRun
}

// ReferenceMBPerSec is the write speed to compare a broker's produce
// throughput with: the sustained run's when there is one (a run as long as
// the broker's), else the better of the two burst runs; 0 for nil.
func (r *DiskResult) ReferenceMBPerSec() float64 {
	if r == nil {
		return 0
	}
	if r.Sustained != nil {
		return r.Sustained.MBPerSec
	}
	return max(r.SyncAtEnd.MBPerSec, r.GroupCommit.MBPerSec)
}

// DiskBaseline measures the sequential write speed of the disk holding
// cfg.Dir: one run writes cfg.TotalBytes in cfg.ChunkBytes chunks and calls
// fdatasync at the end, a second calls fdatasync every cfg.SyncEveryBytes.
// Each run writes a fresh scratch file of random data, which is removed
// afterwards.
func DiskBaseline(ctx context.Context, cfg DiskConfig) (*DiskResult, error) {
	if cfg.Dir == "" {
		cfg.Dir = os.TempDir()
	}
	if cfg.TotalBytes <= 0 {
		cfg.TotalBytes = 256 << 20
	}
	if cfg.ChunkBytes <= 0 {
		cfg.ChunkBytes = 1 << 20
	}
	if cfg.SyncEveryBytes <= 0 {
		cfg.SyncEveryBytes = 4 << 20
	}
	if st, err := os.Stat(cfg.Dir); err != nil {
		return nil, fmt.Errorf("disk baseline: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("disk baseline: %s is not a directory", cfg.Dir)
	}
	chunk := randomPayload(cfg.ChunkBytes)[:cfg.ChunkBytes]
	res := &DiskResult{Dir: cfg.Dir, TotalBytes: cfg.TotalBytes, ChunkBytes: cfg.ChunkBytes, FSType: notableFS(cfg.Dir)}
	burst := cfg
	burst.Duration = 0
	var err error
	if res.SyncAtEnd, err = diskRun(ctx, burst, chunk, 0); err != nil {
		return nil, err
	}
	if res.GroupCommit, err = diskRun(ctx, burst, chunk, cfg.SyncEveryBytes); err != nil {
		return nil, err
	}
	if cfg.Duration > 0 {
		sustained := cfg
		sustained.TotalBytes = math.MaxInt64
		run, err := diskRun(ctx, sustained, chunk, cfg.SyncEveryBytes)
		if err != nil {
			return nil, err
		}
		res.Sustained = &run
	}
	return res, nil
}

// diskRun writes cfg.TotalBytes to a new scratch file, syncing every
// syncEvery bytes (0: only at the end). With cfg.Duration and a syncEvery,
// it writes for cfg.Duration instead.
func diskRun(ctx context.Context, cfg DiskConfig, chunk []byte, syncEvery int64) (run DiskRun, err error) {
	run.SyncEveryBytes = syncEvery
	f, err := os.CreateTemp(cfg.Dir, "eddy-disk-baseline-*")
	if err != nil {
		return run, fmt.Errorf("disk baseline: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("disk baseline: %w", cerr)
		}
		if rerr := os.Remove(f.Name()); rerr != nil && err == nil {
			err = fmt.Errorf("disk baseline: %w", rerr)
		}
	}()
	syncs := NewHistogram()
	sync := func() error {
		t := time.Now()
		if err := fdatasync(f); err != nil {
			return fmt.Errorf("disk baseline: fdatasync: %w", err)
		}
		syncs.Record(time.Since(t))
		return nil
	}
	var written, sinceSync int64
	start := time.Now()
	sustained := cfg.Duration > 0 && syncEvery > 0
	for written < cfg.TotalBytes && (!sustained || time.Since(start) < cfg.Duration) {
		if err := ctx.Err(); err != nil {
			return run, err
		}
		b := chunk
		if rest := cfg.TotalBytes - written; rest < int64(len(b)) {
			b = b[:rest]
		}
		n, err := f.Write(b)
		if err != nil {
			return run, fmt.Errorf("disk baseline: write: %w", err)
		}
		written += int64(n)
		sinceSync += int64(n)
		if syncEvery > 0 && sinceSync >= syncEvery {
			if err := sync(); err != nil {
				return run, err
			}
			sinceSync = 0
		}
	}
	if sinceSync > 0 || syncs.Count() == 0 {
		if err := sync(); err != nil {
			return run, err
		}
	}
	run.Elapsed = time.Since(start)
	run.Bytes = written
	run.Sustained = sustained
	run.Syncs = int(syncs.Count())
	run.SyncLatency = syncs.Summary()
	if s := run.Elapsed.Seconds(); s > 0 {
		run.MBPerSec = float64(written) / MB / s
	}
	return run, nil
}

// runs returns the runs made, in order.
func (r *DiskResult) runs() []DiskRun {
	runs := []DiskRun{r.SyncAtEnd, r.GroupCommit}
	if r.Sustained != nil {
		runs = append(runs, *r.Sustained)
	}
	return runs
}

// label names the run in tables.
func (run DiskRun) label() string {
	label := "sync at end"
	if run.SyncEveryBytes > 0 {
		label = "sync every " + humanBytes(run.SyncEveryBytes)
	}
	if run.Sustained {
		label += fmt.Sprintf(", sustained %s (%d MiB)", run.Elapsed.Round(100*time.Millisecond), run.Bytes>>20)
	}
	return label
}

// Print writes a human-readable report of r to w.
func (r *DiskResult) Print(w io.Writer) error {
	if r == nil {
		return errors.New("bench: nil DiskResult")
	}
	fmt.Fprintf(w, "disk baseline: %s, %s in %s writes", r.Dir, humanBytes(r.TotalBytes), humanBytes(int64(r.ChunkBytes)))
	if r.FSType != "" {
		fmt.Fprintf(w, " (filesystem %s: not a disk figure)", r.FSType)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FDATASYNC\tMB/S\tSYNCS\tELAPSED\tSYNC-P50\tSYNC-P99\tSYNC-MAX")
	for _, run := range r.runs() {
		label := run.label()
		fmt.Fprintf(tw, "%s\t%.1f\t%d\t%s\t%s\t%s\t%s\n", label, run.MBPerSec, run.Syncs,
			run.Elapsed.Round(time.Millisecond), ms(run.SyncLatency.P50), ms(run.SyncLatency.P99), ms(run.SyncLatency.Max))
	}
	return tw.Flush()
}

// humanBytes renders a byte count in the largest binary unit dividing it.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
