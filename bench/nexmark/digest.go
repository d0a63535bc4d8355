package nexmark

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
)

// Digest summarises a query's result rows, each in the canonical text form
// that the Row functions produce, independently of their order: the number of
// rows and the sum of their 64-bit hashes. Up to a limit it also keeps the
// rows themselves, so that a mismatch can name the rows that differ.
type Digest struct {
	Rows int64
	Sum  uint64
	keep int
	rows []string
}

// NewDigest returns an empty digest that keeps up to keep rows for reporting
// differences.
func NewDigest(keep int) *Digest { return &Digest{keep: keep} }

// Add adds a row.
func (d *Digest) Add(row []byte) {
	h := fnv.New64a()
	h.Write(row)
	d.Rows++
	d.Sum += h.Sum64()
	if len(d.rows) < d.keep {
		d.rows = append(d.rows, string(row))
	}
}

// complete reports whether every row was kept.
func (d *Digest) complete() bool { return int64(len(d.rows)) == d.Rows }

// Compare returns nil if got has the same rows as want (as a multiset), and
// otherwise an error saying how they differ.
func Compare(want, got *Digest) error {
	if want.Rows == got.Rows && want.Sum == got.Sum {
		return nil
	}
	msg := fmt.Sprintf("results differ: want %d rows, got %d", want.Rows, got.Rows)
	if !want.complete() || !got.complete() {
		return fmt.Errorf("%s (row hashes differ; too many rows to list)", msg)
	}
	missing, extra := multisetDiff(want.rows, got.rows)
	var b strings.Builder
	b.WriteString(msg)
	list := func(name string, rows []string) {
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(&b, "; %d %s:", len(rows), name)
		for i, r := range rows {
			if i == 5 {
				b.WriteString(" ...")
				break
			}
			fmt.Fprintf(&b, " [%s]", r)
		}
	}
	list("missing", missing)
	list("unexpected", extra)
	return fmt.Errorf("%s", b.String())
}

// multisetDiff returns the rows of want not in got and of got not in want,
// counting duplicates.
func multisetDiff(want, got []string) (missing, extra []string) {
	w, g := slices.Clone(want), slices.Clone(got)
	slices.Sort(w)
	slices.Sort(g)
	i, j := 0, 0
	for i < len(w) || j < len(g) {
		switch {
		case j == len(g) || (i < len(w) && w[i] < g[j]):
			missing = append(missing, w[i])
			i++
		case i == len(w) || g[j] < w[i]:
			extra = append(extra, g[j])
			j++
		default:
			i++
			j++
		}
	}
	return missing, extra
}
