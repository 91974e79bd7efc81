package apiserver

import (
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// noManagedFieldsConverter is the field manager's type converter, minus
// the cost of converting the live object's managedFields.
//
// On every write the field manager turns the stored object and the new
// one into structured-merge-diff values and compares them. The new object
// has its managedFields taken off first; the stored one keeps them, and
// each entry's fieldsV1 has no direct converter, so it goes through a JSON
// encode and decode into nested maps, then the validating walk and the
// comparison: for a running pod's status update, a quarter of the field
// manager's time (BenchmarkPodStatusFieldManager). None of it can change
// the outcome. The new object never carries managedFields into the
// comparison, so no manager can come to own a path under them, and
// metadata.managedFields itself is stripped from every manager's set (the
// stripMetaManager); the entries the field manager records are decoded
// from the objects' metadata, not from these values. So the converter
// sees the object without them.
//
// Apply builds its result from the converted live object, without the
// managedFields then; the field manager sets them on that result from
// what it recorded, as it does for every write.
type noManagedFieldsConverter struct {
	managedfields.TypeConverter
}

func (c noManagedFieldsConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	return c.TypeConverter.ObjectToTyped(withoutManagedFields(obj), opts...)
}

// withoutManagedFields is obj, or when it has managedFields a shallow
// copy without them; obj itself is not changed.
func withoutManagedFields(obj runtime.Object) runtime.Object {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		md, ok := u.Object["metadata"].(map[string]any)
		if !ok || md["managedFields"] == nil {
			return obj
		}
		top := make(map[string]any, len(u.Object))
		for k, v := range u.Object {
			top[k] = v
		}
		m := make(map[string]any, len(md))
		for k, v := range md {
			if k != "managedFields" {
				m[k] = v
			}
		}
		top["metadata"] = m
		return &unstructured.Unstructured{Object: top}
	}
	acc, err := meta.Accessor(obj)
	if err != nil || len(acc.GetManagedFields()) == 0 {
		return obj
	}
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return obj
	}
	// The API types embed ObjectMeta by value, so the copy's metadata is
	// its own; any other shape keeps its managedFields.
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	f := cp.Elem().FieldByName("ObjectMeta")
	if !f.IsValid() || f.Type() != objectMetaType {
		return obj
	}
	f.Addr().Interface().(*metav1.ObjectMeta).ManagedFields = nil
	out, ok := cp.Interface().(runtime.Object)
	if !ok {
		return obj
	}
	return out
}

var objectMetaType = reflect.TypeFor[metav1.ObjectMeta]()
