package resources

import (
	"reflect"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Name validators, as upstream names them.
var (
	NameIsDNSSubdomain = apimachineryvalidation.NameIsDNSSubdomain
	NameIsDNSLabel     = apimachineryvalidation.NameIsDNSLabel
	NameIs1035Label    = apimachineryvalidation.NameIsDNS1035Label
)

// ValidateMeta checks obj's metadata: name per nameFn, namespace present
// iff namespaced, labels, annotations, owner references, finalizers.
func ValidateMeta(obj runtime.Object, namespaced bool, nameFn apimachineryvalidation.ValidateNameFunc) field.ErrorList {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	return apimachineryvalidation.ValidateObjectMetaAccessor(acc, namespaced, nameFn, field.NewPath("metadata"))
}

// ValidateMetaUpdate checks metadata of an update: everything ValidateMeta
// checks plus immutable name, namespace, uid and creationTimestamp.
func ValidateMetaUpdate(obj, old runtime.Object) field.ErrorList {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	oldAcc, err := meta.Accessor(old)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	return apimachineryvalidation.ValidateObjectMetaAccessorUpdate(acc, oldAcc, field.NewPath("metadata"))
}

// SpecChanged reports whether the Spec field of two objects of the same
// struct type differs semantically. It is the usual GenerationChanged.
func SpecChanged(obj, old runtime.Object) bool {
	return !apiequality.Semantic.DeepEqual(specOf(obj), specOf(old))
}

func specOf(obj runtime.Object) interface{} {
	v := reflect.ValueOf(obj)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	f := v.FieldByName("Spec")
	if !f.IsValid() {
		return nil
	}
	return f.Interface()
}
