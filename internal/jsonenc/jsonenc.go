// Package jsonenc encodes API objects to JSON with exactly the bytes
// encoding/json's Marshal gives, in about half the time.
//
// JSON is what kubectl, controller-runtime's clients and most tools ask
// for, so a list or a watch served in JSON costs the server one Marshal
// per object. Upstream's API server uses encoding/json too; its output is
// the wire format clients see. Two things make encoding/json slow on API
// objects, and this package removes both without changing a byte:
//
//   - every json.Marshaler's output is scanned again to check and compact
//     it. An object's managedFields (metav1.FieldsV1, raw JSON of a few
//     hundred bytes each), its timestamps and its quantities all go
//     through that scanner; a third of a pod's encoding went there.
//     Here the apimachinery types whose MarshalJSON output is compact and
//     escaped by construction (Time, MicroTime, Duration, Quantity,
//     IntOrString) are appended as they are, and FieldsV1's raw bytes go
//     through a strict one-pass check that they are valid compact JSON
//     with nothing to escape (else encoding/json does them).
//   - the reflection walk is planned once per type: fields with their
//     quoted names and omit rules, element encoders, label maps read
//     without reflection.
//
// Anything else that defines its own JSON (other Marshalers,
// TextMarshalers), floats, non-string map keys, `,string` fields and
// structs whose embedded fields have conflicting names are handed to
// encoding/json itself, value by value, so the rules that would be easy
// to get subtly wrong are never re-implemented. If encoding fails, Marshal
// runs encoding/json on the whole value and returns its result and error,
// so errors read exactly as encoding/json's do.
//
// The tests encode every type the API server serves, randomly filled,
// through both and require the same bytes.
package jsonenc

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Marshal returns the JSON encoding of v: the same bytes, or the same
// error, as encoding/json.Marshal(v).
func Marshal(v any) ([]byte, error) {
	bp := scratch.Get().(*[]byte)
	data, err := Append((*bp)[:0], v)
	var out []byte
	if err == nil {
		out = slices.Clone(data)
	}
	if cap(data) <= 1<<20 {
		*bp = data
		scratch.Put(bp)
	}
	return out, err
}

// scratch holds encoding buffers between Marshal calls, so that an
// object's encoding grows one buffer that is reused, not a new one.
var scratch = sync.Pool{New: func() any { return new([]byte) }}

// Append appends the JSON encoding of v to dst, as Marshal. On error dst
// is returned unchanged with encoding/json's error.
func Append(dst []byte, v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return append(dst, "null"...), nil
	}
	e := encodeState{buf: dst}
	if err := encoderOf(rv.Type())(&e, rv); err != nil {
		// Let encoding/json speak for itself: the same error, or the
		// bytes if only this encoder gave up (too deep a value).
		data, jerr := json.Marshal(v)
		if jerr != nil {
			return dst, jerr
		}
		return append(dst, data...), nil
	}
	return e.buf, nil
}

type encodeState struct {
	buf []byte
	// depth counts pointers and interfaces followed: past maxDepth the
	// value is handed back to encoding/json, which detects cycles.
	depth int
}

const maxDepth = 1000

var errTooDeep = errors.New("jsonenc: value too deep")

// null writes JSON's null: what a nil pointer, slice, map or interface,
// or a zero metav1.Time, encodes as.
func (e *encodeState) null() error {
	e.buf = append(e.buf, "null"...)
	return nil
}

// An encodeFn appends v's encoding to e.buf.
type encodeFn func(e *encodeState, v reflect.Value) error

var (
	encoders  sync.Map // reflect.Type → encodeFn, complete
	buildLock sync.Mutex

	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	numberType        = reflect.TypeFor[json.Number]()
	isZeroerType      = reflect.TypeFor[interface{ IsZero() bool }]()
)

// encoderOf returns t's encoder, planning it (and the types it contains)
// on first use.
func encoderOf(t reflect.Type) encodeFn {
	if f, ok := encoders.Load(t); ok {
		return f.(encodeFn)
	}
	buildLock.Lock()
	defer buildLock.Unlock()
	if f, ok := encoders.Load(t); ok {
		return f.(encodeFn)
	}
	b := &builder{building: map[reflect.Type]*encodeFn{}}
	f := b.encoder(t)
	// Publish only now: a recursive type's encoders reach each other
	// through pointers that are all set by the time the outermost is
	// built.
	for typ, fp := range b.building {
		encoders.Store(typ, *fp)
	}
	return f
}

type builder struct {
	building map[reflect.Type]*encodeFn
}

func (b *builder) encoder(t reflect.Type) encodeFn {
	if f, ok := encoders.Load(t); ok {
		return f.(encodeFn)
	}
	if fp, ok := b.building[t]; ok {
		// t contains itself: reach its encoder once it is built.
		return func(e *encodeState, v reflect.Value) error { return (*fp)(e, v) }
	}
	fp := new(encodeFn)
	b.building[t] = fp
	*fp = b.newEncoder(t, true)
	return *fp
}

// newEncoder plans t's encoding in encoding/json's order of precedence:
// Marshaler (by pointer when the value is addressable), TextMarshaler
// (likewise), then t's kind.
func (b *builder) newEncoder(t reflect.Type, allowAddr bool) encodeFn {
	if fast := trustedEncoder(t); fast != nil {
		return fast
	}
	if t.Kind() == reflect.Pointer && trustedEncoder(t.Elem()) != nil {
		// encoding/json writes null for nil, else the value's
		// MarshalJSON: the same as following the pointer.
		return b.pointerEncoder(t)
	}
	if t.Kind() != reflect.Pointer && allowAddr && reflect.PointerTo(t).Implements(marshalerType) {
		return condAddr(delegate, b.newEncoder(t, false))
	}
	if t.Implements(marshalerType) {
		return delegate
	}
	if t.Kind() != reflect.Pointer && allowAddr && reflect.PointerTo(t).Implements(textMarshalerType) {
		return condAddr(delegate, b.newEncoder(t, false))
	}
	if t.Implements(textMarshalerType) || t == numberType {
		return delegate
	}
	switch t.Kind() {
	case reflect.Bool:
		return encodeBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return encodeInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return encodeUint
	case reflect.String:
		return encodeString
	case reflect.Interface:
		return encodeInterface
	case reflect.Struct:
		return b.structEncoder(t)
	case reflect.Map:
		return b.mapEncoder(t)
	case reflect.Slice:
		return b.sliceEncoder(t)
	case reflect.Array:
		return b.arrayEncoder(t)
	case reflect.Pointer:
		return b.pointerEncoder(t)
	}
	// Floats (their formatting rules), and what encoding/json rejects.
	return delegate
}

// delegate encodes v with encoding/json: by its address when v is
// addressable, as encoding/json itself reaches it in place.
func delegate(e *encodeState, v reflect.Value) error {
	if !v.CanInterface() {
		return errors.New("jsonenc: unexported value")
	}
	var x any
	if v.CanAddr() {
		x = v.Addr().Interface()
	} else {
		x = v.Interface()
	}
	data, err := json.Marshal(x)
	if err != nil {
		return err
	}
	e.buf = append(e.buf, data...)
	return nil
}

func condAddr(ifAddr, otherwise encodeFn) encodeFn {
	return func(e *encodeState, v reflect.Value) error {
		if v.CanAddr() {
			return ifAddr(e, v)
		}
		return otherwise(e, v)
	}
}

func encodeBool(e *encodeState, v reflect.Value) error {
	e.buf = strconv.AppendBool(e.buf, v.Bool())
	return nil
}

func encodeInt(e *encodeState, v reflect.Value) error {
	e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
	return nil
}

func encodeUint(e *encodeState, v reflect.Value) error {
	e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
	return nil
}

func encodeString(e *encodeState, v reflect.Value) error {
	e.buf = appendString(e.buf, v.String())
	return nil
}

func encodeInterface(e *encodeState, v reflect.Value) error {
	return e.elem(v, nil)
}

// elem encodes what the pointer or interface v holds with enc (nil: the
// encoder of its dynamic type), or null when v is nil, counting the level
// against maxDepth.
func (e *encodeState) elem(v reflect.Value, enc encodeFn) error {
	if v.IsNil() {
		return e.null()
	}
	if e.depth++; e.depth > maxDepth {
		return errTooDeep
	}
	elem := v.Elem()
	if enc == nil {
		enc = encoderOf(elem.Type())
	}
	err := enc(e, elem)
	e.depth--
	return err
}

func (b *builder) pointerEncoder(t reflect.Type) encodeFn {
	elem := b.encoder(t.Elem())
	return func(e *encodeState, v reflect.Value) error {
		return e.elem(v, elem)
	}
}

func (b *builder) sliceEncoder(t reflect.Type) encodeFn {
	if t.Elem().Kind() == reflect.Uint8 {
		p := reflect.PointerTo(t.Elem())
		if !p.Implements(marshalerType) && !p.Implements(textMarshalerType) {
			return encodeBytes
		}
	}
	elem := b.encoder(t.Elem())
	return func(e *encodeState, v reflect.Value) error {
		if v.IsNil() {
			return e.null()
		}
		return encodeElems(e, v, elem)
	}
}

func (b *builder) arrayEncoder(t reflect.Type) encodeFn {
	elem := b.encoder(t.Elem())
	return func(e *encodeState, v reflect.Value) error { return encodeElems(e, v, elem) }
}

func encodeElems(e *encodeState, v reflect.Value, elem encodeFn) error {
	e.buf = append(e.buf, '[')
	for i := range v.Len() {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if err := elem(e, v.Index(i)); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

func encodeBytes(e *encodeState, v reflect.Value) error {
	if v.IsNil() {
		return e.null()
	}
	e.buf = append(e.buf, '"')
	e.buf = base64.StdEncoding.AppendEncode(e.buf, v.Bytes())
	e.buf = append(e.buf, '"')
	return nil
}

var stringMapType = reflect.TypeFor[map[string]string]()

// mapEncoder encodes maps with string keys, in key order; encoding/json
// does the others (keys that are numbers or TextMarshalers).
func (b *builder) mapEncoder(t reflect.Type) encodeFn {
	if t.Key().Kind() != reflect.String {
		return delegate
	}
	if t == stringMapType {
		return encodeStringMap
	}
	elem := b.encoder(t.Elem())
	return func(e *encodeState, v reflect.Value) error {
		if v.IsNil() {
			return e.null()
		}
		if e.depth++; e.depth > maxDepth {
			return errTooDeep
		}
		type entry struct {
			key string
			val reflect.Value
		}
		entries := make([]entry, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			entries = append(entries, entry{it.Key().String(), it.Value()})
		}
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
		e.buf = append(e.buf, '{')
		for i, en := range entries {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = appendString(e.buf, en.key)
			e.buf = append(e.buf, ':')
			if err := elem(e, en.val); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
		e.depth--
		return nil
	}
}

// encodeStringMap is labels and annotations, without reflection.
func encodeStringMap(e *encodeState, v reflect.Value) error {
	if v.IsNil() {
		return e.null()
	}
	if !v.CanInterface() {
		return errors.New("jsonenc: unexported value")
	}
	m := v.Interface().(map[string]string)
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.buf = append(e.buf, '{')
	for i, k := range keys {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = appendString(e.buf, k)
		e.buf = append(e.buf, ':')
		e.buf = appendString(e.buf, m[k])
	}
	e.buf = append(e.buf, '}')
	return nil
}

// A field is one JSON member of a struct: where it is (an index path
// through embedded structs), its name as written, and when it is left
// out.
type field struct {
	name      string // `"name":`, escaped
	index     []int
	omitEmpty bool
	omitZero  bool
	isZero    func(reflect.Value) bool
	enc       encodeFn
}

func (b *builder) structEncoder(t reflect.Type) encodeFn {
	fields, ok := b.structFields(t)
	if !ok {
		return delegate
	}
	return func(e *encodeState, v reflect.Value) error {
		e.buf = append(e.buf, '{')
		first := true
	next:
		for i := range fields {
			f := &fields[i]
			fv := v
			for _, j := range f.index {
				if fv.Kind() == reflect.Pointer {
					if fv.IsNil() {
						continue next
					}
					fv = fv.Elem()
				}
				fv = fv.Field(j)
			}
			if f.omitEmpty && isEmptyValue(fv) {
				continue
			}
			if f.omitZero && (f.isZero == nil && fv.IsZero() || f.isZero != nil && f.isZero(fv)) {
				continue
			}
			if !first {
				e.buf = append(e.buf, ',')
			}
			first = false
			e.buf = append(e.buf, f.name...)
			if err := f.enc(e, fv); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
		return nil
	}
}

// structFields lists t's JSON members in encoding/json's order (by index
// path). It says !ok, and encoding/json encodes t, where encoding/json's
// finer rules would matter: two candidates with one name (its dominance
// rules), `,string` fields, embedded values it names after their type,
// and fields reached through unexported embedded structs.
func (b *builder) structFields(t reflect.Type) ([]field, bool) {
	var fields []field
	names := map[string]bool{}
	type level struct {
		typ   reflect.Type
		index []int
	}
	queue := []level{{t, nil}}
	seen := map[reflect.Type]bool{t: true}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for i := range cur.typ.NumField() {
			sf := cur.typ.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if sf.Anonymous {
				ft := sf.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if !sf.IsExported() {
					if ft.Kind() != reflect.Struct {
						continue // ignored by encoding/json
					}
					return nil, false
				}
				if name == "" {
					if ft.Kind() != reflect.Struct || seen[ft] {
						return nil, false
					}
					seen[ft] = true
					queue = append(queue, level{ft, append(slices.Clone(cur.index), i)})
					continue
				}
			} else if !sf.IsExported() {
				continue
			}
			if name != "" && !validTag(name) {
				return nil, false
			}
			if name == "" {
				name = sf.Name
			}
			if names[name] {
				return nil, false
			}
			names[name] = true
			f := field{index: append(slices.Clone(cur.index), i)}
			for opt := range strings.SplitSeq(opts, ",") {
				switch opt {
				case "omitempty":
					f.omitEmpty = true
				case "omitzero":
					f.omitZero = true
				case "string":
					switch sf.Type.Kind() {
					case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64, reflect.String:
						return nil, false
					}
				}
			}
			if f.omitZero {
				f.isZero = zeroFunc(sf.Type)
			}
			f.name = string(appendString(nil, name)) + ":"
			f.enc = b.encoder(sf.Type)
			fields = append(fields, f)
		}
	}
	slices.SortFunc(fields, func(a, b field) int { return slices.Compare(a.index, b.index) })
	return fields, true
}

// validTag is encoding/json's test of a tag name: letters, digits and
// punctuation other than quotes and backslashes.
func validTag(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c) && !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			return false
		}
	}
	return true
}

// zeroFunc is omitzero's test when t has an IsZero method (else
// reflect's zero value test applies).
func zeroFunc(t reflect.Type) func(reflect.Value) bool {
	call := func(v reflect.Value) bool { return v.Interface().(interface{ IsZero() bool }).IsZero() }
	switch {
	case t.Kind() == reflect.Interface && t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			return v.IsNil() || v.Elem().Kind() == reflect.Pointer && v.Elem().IsNil() || call(v)
		}
	case t.Kind() == reflect.Pointer && t.Implements(isZeroerType):
		return func(v reflect.Value) bool { return v.IsNil() || call(v) }
	case t.Implements(isZeroerType):
		return call
	case reflect.PointerTo(t).Implements(isZeroerType):
		return func(v reflect.Value) bool {
			if !v.CanAddr() {
				c := reflect.New(v.Type()).Elem()
				c.Set(v)
				v = c
			}
			return call(v.Addr())
		}
	}
	return nil
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// trustedEncoder returns the encoder of an apimachinery type whose JSON
// is built here or taken from its MarshalJSON as it is: encoding/json
// would only scan it to find it already compact and escaped.
func trustedEncoder(t reflect.Type) encodeFn {
	switch t {
	case reflect.TypeFor[metav1.Time]():
		return encodeTime
	case reflect.TypeFor[metav1.MicroTime](), reflect.TypeFor[metav1.Duration](),
		reflect.TypeFor[resource.Quantity](), reflect.TypeFor[intstr.IntOrString]():
		return encodeMarshaled
	case reflect.TypeFor[metav1.FieldsV1]():
		return encodeFieldsV1
	}
	return nil
}

// encodeTime is metav1.Time's MarshalJSON without its allocation: null
// when zero, else RFC 3339 in UTC (nothing in it to escape).
func encodeTime(e *encodeState, v reflect.Value) error {
	var t metav1.Time
	if v.CanAddr() {
		t = *v.Addr().Interface().(*metav1.Time)
	} else {
		t = v.Interface().(metav1.Time)
	}
	if t.IsZero() {
		return e.null()
	}
	e.buf = append(e.buf, '"')
	e.buf = t.UTC().AppendFormat(e.buf, time.RFC3339)
	e.buf = append(e.buf, '"')
	return nil
}

// marshaler is v as a json.Marshaler, by pointer when it can be (no
// copy into an interface).
func marshaler(v reflect.Value) json.Marshaler {
	if v.CanAddr() {
		return v.Addr().Interface().(json.Marshaler)
	}
	return v.Interface().(json.Marshaler)
}

// encodeMarshaled appends what MarshalJSON returns: for these types a
// quoted string that encoding/json made or that has nothing to escape,
// or a number.
func encodeMarshaled(e *encodeState, v reflect.Value) error {
	data, err := marshaler(v).MarshalJSON()
	if err != nil {
		return err
	}
	e.buf = append(e.buf, data...)
	return nil
}

// encodeFieldsV1 appends managedFields' raw JSON when it is what
// encoding/json would write, which is nearly always (the field manager
// writes it compact); otherwise encoding/json compacts or rejects it.
func encodeFieldsV1(e *encodeState, v reflect.Value) error {
	data, err := marshaler(v).MarshalJSON()
	if err != nil {
		return err
	}
	if !compactAndSafe(data) {
		return delegate(e, v)
	}
	e.buf = append(e.buf, data...)
	return nil
}
