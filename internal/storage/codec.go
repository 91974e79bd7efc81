package storage

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// NewCodec returns the codec a Store writes and reads etcd values with.
//
// It encodes objects as protobuf in gv (the one version a resource is stored
// in), with kind and apiVersion in the protobuf envelope. It decodes any
// format the scheme's universal deserializer recognises (protobuf, JSON,
// YAML), so values written by hand with etcdctl as JSON still read back, and
// converts the result to gv.
func NewCodec(scheme *runtime.Scheme, gv schema.GroupVersion) runtime.Codec {
	factory := serializer.NewCodecFactory(scheme)
	encoder := factory.EncoderForVersion(protobuf.NewSerializer(scheme, scheme), gv)
	decoder := factory.UniversalDecoder(gv)
	return runtime.NewCodec(encoder, decoder)
}

// encode serializes obj for storage with its resourceVersion cleared: the
// revision lives in etcd's mod revision, never in the value. obj is restored
// before encode returns, so it must not be read concurrently meanwhile.
func (s *store) encode(obj runtime.Object) ([]byte, error) {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidObject, err)
	}
	rv := accessor.GetResourceVersion()
	if rv != "" {
		accessor.SetResourceVersion("")
		defer accessor.SetResourceVersion(rv)
	}
	var buf bytes.Buffer
	if err := s.codec.Encode(obj, &buf); err != nil {
		return nil, fmt.Errorf("%w: encoding %T: %v", ErrInvalidObject, obj, err)
	}
	return buf.Bytes(), nil
}

// encodeShared is encode for an object others may be reading, which
// encode must not modify even for a moment: typed objects are encoded
// from a shallow copy (encoding only reads what the copy shares), others,
// such as unstructured objects whose metadata is a shared map, from a
// deep copy.
func (s *store) encodeShared(obj runtime.Object) ([]byte, error) {
	v := reflect.ValueOf(obj)
	if _, unstructured := obj.(runtime.Unstructured); unstructured || v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return s.encode(obj.DeepCopyObject())
	}
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	return s.encode(cp.Interface().(runtime.Object))
}

// decode fills out from a stored value and sets its resourceVersion to rev.
// out is reset first so no field of a previous object survives.
func (s *store) decode(data []byte, rev int64, out runtime.Object) error {
	if err := resetObject(out); err != nil {
		return err
	}
	if _, _, err := s.codec.Decode(data, nil, out); err != nil {
		return fmt.Errorf("%w: decoding %T: %v", ErrInvalidObject, out, err)
	}
	return setResourceVersion(out, rev)
}

// decodeNew decodes a stored value into a fresh object from NewFunc.
func (s *store) decodeNew(data []byte, rev int64) (runtime.Object, error) {
	obj := s.newFunc()
	if err := s.decode(data, rev, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// resetObject zeroes the struct obj points to.
func resetObject(obj runtime.Object) error {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("%w: want a non-nil pointer, got %T", ErrInvalidObject, obj)
	}
	v.Elem().Set(reflect.Zero(v.Elem().Type()))
	return nil
}

// setResourceVersion stores rev as obj's resourceVersion. Objects and lists
// (anything with ObjectMeta or ListMeta) are both accepted.
func setResourceVersion(obj runtime.Object, rev int64) error {
	if rev <= 0 {
		return fmt.Errorf("%w: resourceVersion %d must be positive", ErrInvalidObject, rev)
	}
	accessor, err := meta.CommonAccessor(obj)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidObject, err)
	}
	accessor.SetResourceVersion(strconv.FormatInt(rev, 10))
	return nil
}

// objectResourceVersion parses obj's resourceVersion; "" is 0.
func objectResourceVersion(obj runtime.Object) (int64, error) {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalidObject, err)
	}
	return parseResourceVersion(accessor.GetResourceVersion())
}
