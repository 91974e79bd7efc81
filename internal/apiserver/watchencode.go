package apiserver

import (
	"encoding/binary"
	"encoding/json"
	"reflect"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/jsonenc"
)

// A watch stream is a sequence of metav1.WatchEvent frames in the
// negotiated media type, as upstream streams them:
//   - JSON: one WatchEvent object per line;
//   - protobuf ("application/vnd.kubernetes.protobuf;stream=watch"): each
//     frame a 4-byte big-endian length and a WatchEvent encoded without the
//     protobuf envelope, whose object is encoded with it (what client-go's
//     watch decoder reads).
//
// Components ask for protobuf: decoding it costs their informers a
// fraction of what JSON does, and encoding it costs the server less too.
//
// Watch events' objects may be shared by every watcher of a resource (the
// storage decodes an event once), so encoding never modifies them: the
// kind goes into the protobuf envelope, or onto a shallow copy for JSON.
// The same sharing lets one event's frame be encoded once for all the
// watchers that get it (frameMemo).

// watchEncoder writes watch event frames in one media type.
type watchEncoder interface {
	// ContentType is the response's Content-Type.
	ContentType() string
	// Encode returns the frame of an event of type typ carrying obj, of
	// kind gvk. obj is only read.
	Encode(typ watch.EventType, obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error)
}

// newWatchEncoder picks the encoder for a negotiated format: protobuf for
// plain objects of a type that has a protobuf encoding, JSON otherwise
// (Tables, YAML, types without protobuf). Plain objects' frames are
// memoized across watchers.
func (s *Server) newWatchEncoder(format outputFormat, ep *endpoint) watchEncoder {
	var enc watchEncoder = jsonWatchEncoder{}
	// PartialObjectMetadata has a protobuf encoding whatever the
	// resource: the metadata client (the garbage collector's watches of
	// every pod, ...) asks for it first, and JSON cost both ends dearly.
	if format.MediaType == mediaProtobuf &&
		(format.As == "" && hasProtobuf(ep.res.New()) || format.As == "PartialObjectMetadata") {
		enc = protobufWatchEncoder{}
	}
	if format.As != "" {
		// Conversions make a new object per watcher: nothing to share.
		return enc
	}
	return memoizedEncoder{watchEncoder: enc, memo: s.frames}
}

// protobufMarshaler is what the generated protobuf code of API types has.
type protobufMarshaler interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
}

// hasProtobuf says whether obj's type has a generated protobuf encoding.
func hasProtobuf(obj runtime.Object) bool {
	_, ok := obj.(protobufMarshaler)
	return ok
}

type jsonWatchEncoder struct{}

func (jsonWatchEncoder) ContentType() string { return mediaJSON }

// Encode writes {"type":...,"object":...} and a newline directly: going
// through metav1.WatchEvent would make encoding/json re-validate and
// compact the already encoded object.
func (jsonWatchEncoder) Encode(typ watch.EventType, obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	data, err := jsonenc.Marshal(withKind(obj, gvk))
	if err != nil {
		return nil, err
	}
	t, err := json.Marshal(string(typ))
	if err != nil {
		return nil, err
	}
	frame := make([]byte, 0, len(data)+len(t)+22)
	frame = append(frame, `{"type":`...)
	frame = append(frame, t...)
	frame = append(frame, `,"object":`...)
	frame = append(frame, data...)
	frame = append(frame, "}\n"...)
	return frame, nil
}

// withKind returns obj with apiVersion and kind set to gvk: obj itself
// when it has them already, else a shallow copy (obj is not modified).
func withKind(obj runtime.Object, gvk schema.GroupVersionKind) runtime.Object {
	if gvk.Empty() || obj.GetObjectKind().GroupVersionKind() == gvk {
		return obj
	}
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return obj
	}
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	out := cp.Interface().(runtime.Object)
	out.GetObjectKind().SetGroupVersionKind(gvk)
	return out
}

type protobufWatchEncoder struct{}

func (protobufWatchEncoder) ContentType() string { return mediaProtobuf + ";stream=watch" }

// protobufPrefix starts every enveloped protobuf object (the protobuf
// serializer's magic number).
var protobufPrefix = []byte{0x6b, 0x38, 0x73, 0x00}

func (protobufWatchEncoder) Encode(typ watch.EventType, obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	m, ok := obj.(protobufMarshaler)
	if !ok {
		return nil, errNotProtobuf(obj)
	}
	raw := make([]byte, m.Size())
	n, err := m.MarshalToSizedBuffer(raw)
	if err != nil {
		return nil, err
	}
	// The envelope the protobuf serializer writes: the magic number, then
	// a runtime.Unknown naming the kind and holding the object.
	unk := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind}, Raw: raw[len(raw)-n:]}
	enveloped := make([]byte, len(protobufPrefix)+unk.Size())
	copy(enveloped, protobufPrefix)
	if _, err := unk.MarshalToSizedBuffer(enveloped[len(protobufPrefix):]); err != nil {
		return nil, err
	}
	we := metav1.WatchEvent{Type: string(typ), Object: runtime.RawExtension{Raw: enveloped}}
	frame := make([]byte, 4+we.Size())
	n, err = we.MarshalToSizedBuffer(frame[4:])
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(frame, uint32(n))
	return frame, nil
}

type errNotProtobufType struct{ obj runtime.Object }

func (e errNotProtobufType) Error() string {
	return reflect.TypeOf(e.obj).String() + " has no protobuf encoding"
}

func errNotProtobuf(obj runtime.Object) error { return errNotProtobufType{obj} }

// memoizedEncoder shares frames between the watchers of one event.
type memoizedEncoder struct {
	watchEncoder
	memo *frameMemo
}

func (e memoizedEncoder) Encode(typ watch.EventType, obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	key := frameKey{obj: obj, typ: typ, contentType: e.ContentType(), gvk: gvk}
	if frame, ok := e.memo.get(key); ok {
		return frame, nil
	}
	frame, err := e.watchEncoder.Encode(typ, obj, gvk)
	if err == nil {
		e.memo.put(key, frame)
	}
	return frame, err
}

// frameMemo remembers the frames of the last events encoded, by object
// identity: an object handed to several watchers is encoded once. Holding
// the object keeps its address from being reused while it is remembered.
// Frames are shared and must not be modified.
type frameMemo struct {
	mu     sync.Mutex
	frames map[frameKey][]byte
	ring   []frameKey // insertion order; the oldest is evicted first
	next   int
}

type frameKey struct {
	obj         runtime.Object
	typ         watch.EventType
	contentType string
	gvk         schema.GroupVersionKind
}

// frameMemoSize bounds the frames remembered: enough for a burst of events
// to reach every watcher.
const frameMemoSize = 1024

func newFrameMemo() *frameMemo {
	return &frameMemo{frames: make(map[frameKey][]byte, frameMemoSize), ring: make([]frameKey, frameMemoSize)}
}

func (m *frameMemo) get(k frameKey) ([]byte, bool) {
	if !comparableObject(k.obj) {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.frames[k]
	return f, ok
}

func (m *frameMemo) put(k frameKey, frame []byte) {
	if !comparableObject(k.obj) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.frames[k]; ok {
		return
	}
	if old := m.ring[m.next]; old.obj != nil {
		delete(m.frames, old)
	}
	m.ring[m.next] = k
	m.next = (m.next + 1) % len(m.ring)
	m.frames[k] = frame
}

// comparableObject: only pointers identify an object (and can be map keys
// without panicking).
func comparableObject(obj runtime.Object) bool {
	return obj != nil && reflect.TypeOf(obj).Kind() == reflect.Pointer
}
