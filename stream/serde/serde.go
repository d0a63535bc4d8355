// Package serde turns typed keys and values into bytes and back for the
// stream library: the built-in formats (bytes, string, JSON, fixed-width
// integers and floats) and user-defined ones through Funcs.
//
// A Serde appends its encoding to a caller-supplied buffer so that the
// library can reuse buffers on the record path (state-store keys, for
// example) without allocating per record.
package serde

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Serde encodes values of type T to bytes and decodes them back.
//
// Encode appends the encoding of v to dst and returns the extended slice;
// it must not keep dst. Decode must not keep b after it returns (copy what
// it needs): the library reuses input buffers.
type Serde[T any] interface {
	Encode(dst []byte, v T) ([]byte, error)
	Decode(b []byte) (T, error)
}

// ErrSize is returned (wrapped) when a fixed-width value has the wrong
// number of bytes.
var ErrSize = errors.New("serde: wrong size")

// Bytes passes byte slices through; Decode copies.
var Bytes Serde[[]byte] = bytesSerde{}

// String encodes strings as their UTF-8 bytes (not validated).
var String Serde[string] = stringSerde{}

// Int64 encodes int64 as 8 bytes big-endian, as Kafka's LongSerializer.
var Int64 Serde[int64] = int64Serde{}

// Int32 encodes int32 as 4 bytes big-endian, as Kafka's IntegerSerializer.
var Int32 Serde[int32] = int32Serde{}

// Float64 encodes float64 as its IEEE-754 bits, 8 bytes big-endian, as
// Kafka's DoubleSerializer.
var Float64 Serde[float64] = float64Serde{}

// Void is for keys or values that are always absent: it encodes to no
// bytes and decodes anything to the zero struct.
var Void Serde[struct{}] = voidSerde{}

type bytesSerde struct{}

func (bytesSerde) Encode(dst []byte, v []byte) ([]byte, error) { return append(dst, v...), nil }
func (bytesSerde) Decode(b []byte) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	return append([]byte(nil), b...), nil
}

type stringSerde struct{}

func (stringSerde) Encode(dst []byte, v string) ([]byte, error) { return append(dst, v...), nil }
func (stringSerde) Decode(b []byte) (string, error)             { return string(b), nil }

type int64Serde struct{}

func (int64Serde) Encode(dst []byte, v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(dst, uint64(v)), nil
}
func (int64Serde) Decode(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: int64 needs 8 bytes, got %d", ErrSize, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

type int32Serde struct{}

func (int32Serde) Encode(dst []byte, v int32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(dst, uint32(v)), nil
}
func (int32Serde) Decode(b []byte) (int32, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("%w: int32 needs 4 bytes, got %d", ErrSize, len(b))
	}
	return int32(binary.BigEndian.Uint32(b)), nil
}

type float64Serde struct{}

func (float64Serde) Encode(dst []byte, v float64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(v)), nil
}
func (float64Serde) Decode(b []byte) (float64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: float64 needs 8 bytes, got %d", ErrSize, len(b))
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

type voidSerde struct{}

func (voidSerde) Encode(dst []byte, _ struct{}) ([]byte, error) { return dst, nil }
func (voidSerde) Decode([]byte) (struct{}, error)               { return struct{}{}, nil }

// JSON encodes T with encoding/json.
func JSON[T any]() Serde[T] { return jsonSerde[T]{} }

type jsonSerde[T any] struct{}

func (jsonSerde[T]) Encode(dst []byte, v T) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func (jsonSerde[T]) Decode(b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}

// Funcs makes a Serde from two functions, for user-defined formats.
// The encoder's result is appended to the library's buffer.
func Funcs[T any](encode func(T) ([]byte, error), decode func([]byte) (T, error)) Serde[T] {
	return funcSerde[T]{encode, decode}
}

type funcSerde[T any] struct {
	enc func(T) ([]byte, error)
	dec func([]byte) (T, error)
}

func (f funcSerde[T]) Encode(dst []byte, v T) ([]byte, error) {
	b, err := f.enc(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}
func (f funcSerde[T]) Decode(b []byte) (T, error) { return f.dec(b) }

// AppendFuncs makes a Serde from an appending encoder and a decoder: the
// allocation-free form of Funcs.
func AppendFuncs[T any](encode func(dst []byte, v T) ([]byte, error), decode func([]byte) (T, error)) Serde[T] {
	return appendSerde[T]{encode, decode}
}

type appendSerde[T any] struct {
	enc func([]byte, T) ([]byte, error)
	dec func([]byte) (T, error)
}

func (f appendSerde[T]) Encode(dst []byte, v T) ([]byte, error) { return f.enc(dst, v) }
func (f appendSerde[T]) Decode(b []byte) (T, error)             { return f.dec(b) }
