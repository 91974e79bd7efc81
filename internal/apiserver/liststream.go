package apiserver

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"io"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/jsonenc"
)

// Lists are written item by item, as upstream's streaming collection
// encoders do (1.33+): the list is never encoded into one buffer, so a
// 150,000-pod list costs the server the typed list it already holds plus
// one item's encoding at a time, not a second copy of the whole thing.
// The bytes are exactly what encoding the list in one go gives (the
// tests compare them).

// streamBuffer is how much of a streamed list is gathered before a write.
const streamBuffer = 64 << 10

// streamableList returns the items of obj when it is a list that can be
// streamed: a typed list whose items all encode on their own.
func streamableList(obj runtime.Object) ([]runtime.Object, metav1.ListInterface, bool) {
	if !meta.IsListType(obj) {
		return nil, nil, false
	}
	lm, err := meta.ListAccessor(obj)
	if err != nil {
		return nil, nil, false
	}
	items, err := meta.ExtractList(obj)
	if err != nil {
		return nil, nil, false
	}
	for _, item := range items {
		if _, ok := item.(protoItem); !ok {
			return nil, nil, false // e.g. v1.List's raw items
		}
	}
	return items, lm, true
}

// listMeta is the list's metadata as its own type encodes it.
func listMeta(lm metav1.ListInterface) metav1.ListMeta {
	return metav1.ListMeta{ResourceVersion: lm.GetResourceVersion(), Continue: lm.GetContinue(),
		RemainingItemCount: lm.GetRemainingItemCount(), SelfLink: lm.GetSelfLink()}
}

// writeJSONList writes list (kind and apiVersion set) as json.Marshal
// would, followed by a newline, one item at a time (each through
// jsonenc, which writes encoding/json's bytes faster).
func writeJSONList(w io.Writer, list runtime.Object, items []runtime.Object, lm metav1.ListInterface) error {
	bw := bufio.NewWriterSize(w, streamBuffer)
	gvk := list.GetObjectKind().GroupVersionKind()
	head, err := json.Marshal(struct {
		Kind       string          `json:"kind,omitempty"`
		APIVersion string          `json:"apiVersion,omitempty"`
		Metadata   metav1.ListMeta `json:"metadata"`
	}{gvk.Kind, gvk.GroupVersion().String(), listMeta(lm)})
	if err != nil {
		return err
	}
	bw.Write(head[:len(head)-1]) // without the closing brace
	bw.WriteString(`,"items":[`)
	var data []byte
	for i, item := range items {
		if data, err = jsonenc.Append(data[:0], item); err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		if _, err := bw.Write(data); err != nil {
			return err
		}
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// protoItem is what every generated Kubernetes type implements.
type protoItem interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
}

// protobufMagic starts every Kubernetes protobuf message.
var protobufMagic = []byte{0x6b, 0x38, 0x73, 0x00}

// writeProtobufList writes list as the Kubernetes protobuf serializer
// would (the magic, then a runtime.Unknown whose raw bytes are the list
// message: field 1 its ListMeta, field 2 each item), one item at a time.
// Every item's size is computed first, since the envelope states the
// length of what follows.
func writeProtobufList(w io.Writer, list runtime.Object, items []runtime.Object, lm metav1.ListInterface) error {
	m := listMeta(lm)
	sizes := make([]int, len(items))
	raw := fieldLen(m.Size())
	for i, item := range items {
		sizes[i] = item.(protoItem).Size()
		raw += fieldLen(sizes[i])
	}
	gvk := list.GetObjectKind().GroupVersionKind()
	apiVersion, kind := gvk.GroupVersion().String(), gvk.Kind
	typeMeta := fieldLen(len(apiVersion)) + fieldLen(len(kind))

	bw := bufio.NewWriterSize(w, streamBuffer)
	bw.Write(protobufMagic)
	// runtime.Unknown: 1 typeMeta, 2 raw, 3 contentEncoding, 4 contentType
	writeTag(bw, 1, typeMeta)
	writeTag(bw, 1, len(apiVersion))
	bw.WriteString(apiVersion)
	writeTag(bw, 2, len(kind))
	bw.WriteString(kind)
	writeTag(bw, 2, raw)
	buf := make([]byte, m.Size())
	if _, err := m.MarshalToSizedBuffer(buf); err != nil {
		return err
	}
	writeTag(bw, 1, len(buf))
	bw.Write(buf)
	for i, item := range items {
		if cap(buf) < sizes[i] {
			buf = make([]byte, sizes[i])
		}
		buf = buf[:sizes[i]]
		if _, err := item.(protoItem).MarshalToSizedBuffer(buf); err != nil {
			return err
		}
		writeTag(bw, 2, len(buf))
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	writeTag(bw, 3, 0)
	writeTag(bw, 4, 0)
	return bw.Flush()
}

// fieldLen is the encoded length of a length-delimited field (of a field
// number below 16) holding n bytes.
func fieldLen(n int) int { return 1 + uvarintLen(uint64(n)) + n }

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// writeTag writes the key of length-delimited field num and the length.
func writeTag(w *bufio.Writer, num int, length int) {
	w.WriteByte(byte(num<<3 | 2))
	var b [binary.MaxVarintLen64]byte
	w.Write(b[:binary.PutUvarint(b[:], uint64(length))])
}
