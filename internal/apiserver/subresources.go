package apiserver

import (
	"context"
	"fmt"
	"net/http"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/apiserver/resources"
	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
	"github.com/skiff-sh/skiff/internal/storage"
)

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// serveSubresource routes /status, /scale, /binding, /eviction,
// /finalize and the node-proxied subresources.
func (s *Server) serveSubresource(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo, ep *endpoint, ns string) {
	res := ep.res
	notFound := func() { s.writeError(w, r, errNoRoute()) }
	switch {
	case ri.Subresource == "status" && res.HasStatus:
		switch r.Method {
		case http.MethodGet:
			s.serveGet(ctx, w, r, ep, ns, ri.Name)
		case http.MethodPut:
			s.serveUpdate(ctx, w, r, ep, ns, ri.Name, updateStatus)
		case http.MethodPatch:
			s.servePatch(ctx, w, r, ep, ns, ri.Name, updateStatus)
		default:
			s.writeError(w, r, methodNotAllowed(r.Method, res.Resource+"/status"))
		}
	case ri.Subresource == "scale" && res.Scale != nil:
		s.serveScale(ctx, w, r, ep, ns, ri.Name)
	case ri.Subresource == "binding" && res.Resource == "pods" && r.Method == http.MethodPost:
		s.serveBinding(ctx, w, r, ep, ns, ri.Name)
	case ri.Subresource == "eviction" && res.Resource == "pods" && r.Method == http.MethodPost:
		s.serveEviction(ctx, w, r, ep, ns, ri.Name)
	case ri.Subresource == "finalize" && res.Resource == "namespaces" && r.Method == http.MethodPut:
		s.serveFinalize(ctx, w, r, ep, ri.Name)
	case ri.Subresource == "proxy" && res.GroupVersion.Group == "" && (res.Resource == "pods" || res.Resource == "services"):
		s.servePodNetworkProxy(ctx, w, r, ep, ns, ri)
	case ri.Subresource == "token" && res.GroupVersion.Group == "" && res.Resource == "serviceaccounts":
		s.serveTokenRequest(ctx, w, r, ep, ns, ri.Name)
	case hasSubresource(res, ri.Subresource):
		s.serveNodeProxied(ctx, w, r, ep, ns, ri)
	default:
		notFound()
	}
}

func hasSubresource(res *resources.Resource, name string) bool {
	for _, sr := range res.Subresources {
		if sr.Name == name {
			return true
		}
	}
	return false
}

// serveScale serves autoscaling/v1 Scale for a workload.
func (s *Server) serveScale(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns, name string) {
	toScale := func(obj runtime.Object) *autoscalingv1.Scale {
		m, _ := meta.Accessor(obj)
		spec, status, selector := ep.res.Scale.Get(obj)
		sc := &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
				ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp()},
			Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
			Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
		}
		sc.GetObjectKind().SetGroupVersionKind(scaleGVK)
		return sc
	}
	switch r.Method {
	case http.MethodGet:
		obj := ep.res.New()
		if err := ep.store.Get(ctx, ep.key(ns, name), storage.GetOptions{}, obj); err != nil {
			s.writeError(w, r, toAPIError(err, ep.res.GroupResource(), name))
			return
		}
		s.writeScale(w, r, http.StatusOK, toScale(obj))
		return
	case http.MethodPut, http.MethodPatch:
	default:
		s.writeError(w, r, methodNotAllowed(r.Method, ep.res.Resource+"/scale"))
		return
	}
	o, err := parseWriteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.update(ctx, ep, ns, name, updateMain, o, func(_ context.Context, current runtime.Object) (runtime.Object, error) {
		cur := toScale(current)
		var scale *autoscalingv1.Scale
		if r.Method == http.MethodPut {
			obj, _, err := s.decodeInto(body, requestMediaType(r), scaleGVK, &autoscalingv1.Scale{}, o.fieldValidation)
			if err != nil {
				return nil, err
			}
			scale = obj.(*autoscalingv1.Scale)
		} else {
			pt := types.PatchType(requestMediaType(r))
			if pt != types.JSONPatchType && pt != types.MergePatchType && pt != types.StrategicMergePatchType {
				return nil, errUnsupportedMediaType(string(pt))
			}
			obj, _, err := s.applyPatch(ep, pt, cur, body, o.fieldValidation, scaleGVK, func() runtime.Object { return &autoscalingv1.Scale{} })
			if err != nil {
				return nil, err
			}
			scale = obj.(*autoscalingv1.Scale)
		}
		if scale.ResourceVersion != "" && scale.ResourceVersion != cur.ResourceVersion {
			return nil, apierrors.NewConflict(schema.GroupResource{Group: ep.res.GroupVersion.Group, Resource: ep.res.Resource}, name, fmt.Errorf(conflictMessage))
		}
		if scale.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(scaleGVK.GroupKind(), name, nil)
		}
		ep.res.Scale.SetReplicas(current, scale.Spec.Replicas)
		m, _ := meta.Accessor(current)
		m.SetResourceVersion("")
		return current, nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeScale(w, r, http.StatusOK, toScale(out))
}

var scaleColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	{Name: "Desired", Type: "integer", Description: autoscalingv1.ScaleSpec{}.SwaggerDoc()["replicas"]},
	{Name: "Available", Type: "integer", Description: autoscalingv1.ScaleStatus{}.SwaggerDoc()["replicas"]},
	{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
}

// writeScale writes a Scale, as a Table when kubectl asks for one
// (`kubectl get deploy x --subresource=scale`).
func (s *Server) writeScale(w http.ResponseWriter, r *http.Request, code int, sc *autoscalingv1.Scale) {
	format, ok := negotiate(r, "Table")
	if !ok {
		s.writeError(w, r, errNotAcceptable(r))
		return
	}
	if format.As != "Table" {
		s.encode(w, format.MediaType, code, sc)
		return
	}
	table := &metav1.Table{ColumnDefinitions: scaleColumns}
	table.Kind, table.APIVersion = "Table", "meta.k8s.io/"+format.Version
	table.ResourceVersion = sc.ResourceVersion
	p := &metav1.PartialObjectMetadata{ObjectMeta: sc.ObjectMeta}
	p.Kind, p.APIVersion = "PartialObjectMetadata", "meta.k8s.io/v1"
	table.Rows = []metav1.TableRow{{
		Cells:  []interface{}{sc.Name, int64(sc.Spec.Replicas), int64(sc.Status.Replicas), age(sc.CreationTimestamp, s.now())},
		Object: runtime.RawExtension{Raw: mustJSON(p)},
	}}
	s.encode(w, format.MediaType, code, table)
}

// serveBinding assigns a pod to a node (the scheduler's write).
func (s *Server) serveBinding(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns, name string) {
	o, err := parseWriteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	data, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, _, err := s.decodeInto(data, requestMediaType(r), corev1.SchemeGroupVersion.WithKind("Binding"), &corev1.Binding{}, o.fieldValidation)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	binding := obj.(*corev1.Binding)
	if binding.Name != "" && binding.Name != name {
		s.writeError(w, r, apierrors.NewBadRequest("the name of the binding does not match the pod"))
		return
	}
	if binding.Target.Name == "" {
		s.writeError(w, r, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Binding").GroupKind(), name,
			nil))
		return
	}
	gr := ep.res.GroupResource()
	// As upstream's binding storage, the assignment bypasses managed
	// fields: it is the scheduler's one write, not a field it owns, and
	// the field bookkeeping would be most of the cost of a binding.
	o.managedDone = true
	_, err = s.update(ctx, ep, ns, name, updateRaw, o, func(_ context.Context, current runtime.Object) (runtime.Object, error) {
		pod := current.(*corev1.Pod)
		if binding.UID != "" && binding.UID != pod.UID {
			return nil, apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", binding.UID, pod.UID))
		}
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(gr, name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(gr, name, fmt.Errorf("pod %s is already assigned to node %q", name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = binding.Target.Name
		for k, v := range binding.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		controllerutil.SetPodCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(s.now())})
		pod.ResourceVersion = ""
		return pod, nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusCreated, &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated})
}

// serveEviction deletes a pod on behalf of an eviction. No
// PodDisruptionBudgets are served yet, so every eviction is allowed.
func (s *Server) serveEviction(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, ns, name string) {
	data, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, _, err := s.decodeInto(data, requestMediaType(r), policyv1.SchemeGroupVersion.WithKind("Eviction"), &policyv1.Eviction{}, metav1.FieldValidationIgnore)
	if err != nil {
		// policy/v1beta1 evictions carry the same fields.
		obj, _, err = s.decodeInto(data, requestMediaType(r), schema.GroupVersionKind{Group: "policy", Version: "v1beta1", Kind: "Eviction"}, &policyv1.Eviction{}, metav1.FieldValidationIgnore)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ev := obj.(*policyv1.Eviction)
	if ev.Name != "" && ev.Name != name {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("name in URL does not match name in Eviction object")))
		return
	}
	opts := ev.DeleteOptions
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	if err := validateDeleteOptions(opts); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.delete(ctx, ep, ns, name, opts, len(opts.DryRun) > 0); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusCreated, &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated})
}

// serveFinalize updates a namespace's spec.finalizers; once they and the
// metadata finalizers are empty, a terminating namespace is removed.
func (s *Server) serveFinalize(ctx context.Context, w http.ResponseWriter, r *http.Request, ep *endpoint, name string) {
	o, err := parseWriteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, _, err := s.decodeBody(r, ep, o.fieldValidation)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.update(ctx, ep, "", name, updateRaw, o, func(_ context.Context, current runtime.Object) (runtime.Object, error) {
		next := current.(*corev1.Namespace)
		next.Spec.Finalizers = obj.(*corev1.Namespace).Spec.Finalizers
		next.ResourceVersion = obj.(*corev1.Namespace).ResourceVersion
		return next, nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeResource(w, r, ep, http.StatusOK, out)
}
