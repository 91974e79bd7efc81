package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/internal/jsonenc"
	"github.com/skiff-sh/skiff/internal/storage"
)

// servePatch applies a JSON, merge, strategic-merge or apply patch.
func (s *Server) servePatch(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns, name string, kind updateKind) {
	o, err := parseWriteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	patch, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pt := types.PatchType(requestMediaType(r))
	var out runtime.Object
	var warnings []string
	switch pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
		out, err = s.update(ctx, ep, ns, name, kind, o, func(_ context.Context, current runtime.Object) (runtime.Object, error) {
			obj, w, err := s.applyPatch(ep, pt, current, patch, o.fieldValidation, ep.gvk, ep.res.New)
			warnings = w
			return obj, err
		})
	case types.ApplyPatchType, types.ApplyCBORPatchType:
		if pt == types.ApplyCBORPatchType {
			err = errUnsupportedMediaType(string(pt))
			break
		}
		out, err = s.serverSideApply(ctx, r, ep, ns, name, kind, o, patch)
	default:
		err = errUnsupportedMediaType(string(pt))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeWarnings(w, warnings)
	s.writeResource(w, r, ep, http.StatusOK, out)
}

// applyPatch patches current (an object of kind gvk) and decodes the
// result, strictly if asked.
func (s *Server) applyPatch(ep *endpoint, pt types.PatchType, current runtime.Object, patch []byte, fieldValidation string,
	gvk schema.GroupVersionKind, newFn func() runtime.Object) (runtime.Object, []string, error) {
	current.GetObjectKind().SetGroupVersionKind(gvk)
	original, err := jsonenc.Marshal(current)
	if err != nil {
		return nil, nil, apierrors.NewInternalError(err)
	}
	var patched []byte
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(err.Error())
		}
		if patched, err = applyJSONPatch(p, original); err != nil {
			return nil, nil, patchInvalid(gvk, objectName(current), patch, err)
		}
	case types.MergePatchType:
		if patched, err = jsonpatch.MergePatch(original, patch); err != nil {
			return nil, nil, badPatch(err)
		}
	case types.StrategicMergePatchType:
		var patchMap map[string]interface{}
		if err := json.Unmarshal(patch, &patchMap); err != nil {
			return nil, nil, badPatch(err)
		}
		if patched, err = strategicpatch.StrategicMergePatch(original, patch, newFn()); err != nil {
			return nil, nil, patchInvalid(gvk, objectName(current), patch, err)
		}
	}
	return s.decodeInto(patched, mediaJSON, gvk, newFn(), fieldValidation)
}

// applyJSONPatch applies p, turning a panic inside the library (it has
// panicked on some malformed operations) into an error.
func applyJSONPatch(p jsonpatch.Patch, doc []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid JSON patch: %v", r)
		}
	}()
	return p.Apply(doc)
}

func badPatch(err error) error {
	return apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
}

func patchInvalid(gvk schema.GroupVersionKind, name string, patch []byte, err error) error {
	return apierrors.NewInvalid(gvk.GroupKind(), name, field.ErrorList{field.Invalid(field.NewPath("patch"), string(patch), err.Error())})
}

// serverSideApply merges an apply configuration into the live object with
// field ownership, creating the object if it does not exist.
func (s *Server) serverSideApply(ctx context.Context, r *http.Request, ep *endpoint, ns, name string, kind updateKind, o writeOptions, patch []byte) (runtime.Object, error) {
	if r.URL.Query().Get("fieldManager") == "" {
		return nil, apierrors.NewBadRequest("PATCH with application/apply-patch+yaml requires the fieldManager query parameter")
	}
	force := false
	if v := r.URL.Query().Get("force"); v != "" {
		force = v == "true"
	}
	applied := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(patch, &applied.Object); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
	}
	if applied.Object == nil {
		return nil, apierrors.NewBadRequest("the apply configuration is empty")
	}
	if gvk := applied.GroupVersionKind(); gvk != ep.gvk {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the apply configuration's apiVersion and kind (%s) do not match the resource (%s)", gvk, ep.gvk))
	}
	if n := applied.GetName(); n != "" && n != name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", n, name))
	}
	if o.fieldValidation == metav1.FieldValidationStrict {
		if _, _, err := s.decodeInto(mustJSON(applied.Object), mediaJSON, ep.gvk, ep.res.New(), o.fieldValidation); err != nil {
			return nil, err
		}
	}
	fm := ep.fieldManager
	if kind == updateStatus && ep.statusFieldManager != nil {
		fm = ep.statusFieldManager
	}
	o.managedDone = true
	apply := func(live runtime.Object) (runtime.Object, error) {
		ep.setKind(live)
		out, err := fm.Apply(live, applied.DeepCopy(), o.fieldManager, force)
		if err != nil {
			var st apierrors.APIStatus
			if errors.As(err, &st) {
				return nil, err
			}
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	}

	current := ep.res.New()
	err := ep.store.Get(ctx, ep.key(ns, name), storage.GetOptions{}, current)
	if errors.Is(err, storage.ErrNotFound) && kind == updateMain {
		live := ep.res.New()
		obj, err := apply(live)
		if err != nil {
			return nil, err
		}
		m, _ := meta.Accessor(obj)
		m.SetName(name)
		out, err := s.create(ctx, ep, ns, obj, o)
		if apierrors.IsAlreadyExists(err) {
			// Lost a race with another creator: apply to what is there.
			return s.update(ctx, ep, ns, name, kind, o, func(_ context.Context, cur runtime.Object) (runtime.Object, error) { return apply(cur) })
		}
		return out, err
	}
	if err != nil {
		return nil, toAPIError(err, ep.res.GroupResource(), name)
	}
	return s.update(ctx, ep, ns, name, kind, o, func(_ context.Context, cur runtime.Object) (runtime.Object, error) { return apply(cur) })
}

func mustJSON(v interface{}) []byte {
	data, _ := json.Marshal(v)
	return data
}

func objectName(obj runtime.Object) string {
	if m, err := meta.Accessor(obj); err == nil {
		return m.GetName()
	}
	return ""
}
