package cli

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// formatHelp documents the --format template language.
const formatHelp = `Format directives (kcat-like):
  %v  value            %k  key
  %V  value length     %K  key length
  %p  partition        %o  offset
  %t  timestamp (ms)   %T  topic
  %h  headers as k1=v1,k2=v2
  %%  a literal percent sign
Escapes: \n newline, \t tab, \r carriage return, \\ backslash, \0 NUL.`

// recordFormat is a compiled --format template.
type recordFormat []formatPart

// formatPart appends one piece of a formatted record to dst.
type formatPart func(dst []byte, r *kgo.Record) []byte

// parseFormat compiles a --format template.
func parseFormat(tmpl string) (recordFormat, error) {
	var (
		parts recordFormat
		lit   []byte
	)
	flush := func() {
		if len(lit) > 0 {
			s := string(lit)
			parts = append(parts, func(dst []byte, _ *kgo.Record) []byte { return append(dst, s...) })
			lit = lit[:0]
		}
	}
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		switch c {
		case '\\':
			if i+1 == len(tmpl) {
				return nil, fmt.Errorf("format %q: trailing backslash", tmpl)
			}
			i++
			switch tmpl[i] {
			case 'n':
				lit = append(lit, '\n')
			case 't':
				lit = append(lit, '\t')
			case 'r':
				lit = append(lit, '\r')
			case '0':
				lit = append(lit, 0)
			case '\\':
				lit = append(lit, '\\')
			default:
				return nil, fmt.Errorf("format %q: unknown escape \\%c", tmpl, tmpl[i])
			}
		case '%':
			if i+1 == len(tmpl) {
				return nil, fmt.Errorf("format %q: trailing %%", tmpl)
			}
			i++
			d := tmpl[i]
			if d == '%' {
				lit = append(lit, '%')
				continue
			}
			part, ok := formatDirectives[d]
			if !ok {
				return nil, fmt.Errorf("format %q: unknown directive %%%c", tmpl, d)
			}
			flush()
			parts = append(parts, part)
		default:
			lit = append(lit, c)
		}
	}
	flush()
	return parts, nil
}

var formatDirectives = map[byte]formatPart{
	'v': func(dst []byte, r *kgo.Record) []byte { return append(dst, r.Value...) },
	'k': func(dst []byte, r *kgo.Record) []byte { return append(dst, r.Key...) },
	'V': func(dst []byte, r *kgo.Record) []byte { return strconv.AppendInt(dst, int64(len(r.Value)), 10) },
	'K': func(dst []byte, r *kgo.Record) []byte { return strconv.AppendInt(dst, int64(len(r.Key)), 10) },
	'p': func(dst []byte, r *kgo.Record) []byte { return strconv.AppendInt(dst, int64(r.Partition), 10) },
	'o': func(dst []byte, r *kgo.Record) []byte { return strconv.AppendInt(dst, r.Offset, 10) },
	't': func(dst []byte, r *kgo.Record) []byte { return strconv.AppendInt(dst, r.Timestamp.UnixMilli(), 10) },
	'T': func(dst []byte, r *kgo.Record) []byte { return append(dst, r.Topic...) },
	'h': func(dst []byte, r *kgo.Record) []byte {
		for i, h := range r.Headers {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, h.Key...)
			dst = append(dst, '=')
			dst = append(dst, h.Value...)
		}
		return dst
	},
}

// append formats r onto dst.
func (f recordFormat) append(dst []byte, r *kgo.Record) []byte {
	for _, p := range f {
		dst = p(dst, r)
	}
	return dst
}
