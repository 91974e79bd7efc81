package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/storage"
)

// writeOptions are the query options every write takes.
type writeOptions struct {
	dryRun          bool
	fieldManager    string
	fieldValidation string
	// managedDone: managedFields were already computed (server-side apply).
	managedDone bool
}

func parseWriteOptions(r *http.Request) (writeOptions, error) {
	q := r.URL.Query()
	var o writeOptions
	for _, v := range q["dryRun"] {
		if v != metav1.DryRunAll {
			return o, apierrors.NewBadRequest(fmt.Sprintf("Invalid dryRun value %q: only %q is supported", v, metav1.DryRunAll))
		}
		o.dryRun = true
	}
	o.fieldManager = q.Get("fieldManager")
	if o.fieldManager == "" {
		o.fieldManager = managerFromUserAgent(r.UserAgent())
	}
	if utf8.RuneCountInString(o.fieldManager) > 128 {
		return o, apierrors.NewBadRequest("fieldManager: Too long: must have at most 128 bytes")
	}
	switch v := q.Get("fieldValidation"); v {
	case "":
		o.fieldValidation = metav1.FieldValidationWarn
	case metav1.FieldValidationIgnore, metav1.FieldValidationWarn, metav1.FieldValidationStrict:
		o.fieldValidation = v
	default:
		return o, apierrors.NewBadRequest(fmt.Sprintf("fieldValidation: Invalid value: %q: must be one of Ignore, Warn, Strict", v))
	}
	return o, nil
}

// managerFromUserAgent names a field manager after the client program, as
// upstream does when fieldManager is not given.
func managerFromUserAgent(ua string) string {
	if i := strings.Index(ua, "/"); i >= 0 {
		ua = ua[:i]
	}
	if ua == "" {
		return "unknown"
	}
	if len(ua) > 128 {
		ua = ua[:128]
	}
	return ua
}

// create runs the create pipeline and stores obj (unless dry run).
func (s *Server) create(ctx context.Context, ep *endpoint, ns string, obj runtime.Object, o writeOptions) (runtime.Object, error) {
	res := ep.res
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if res.Namespaced {
		switch acc.GetNamespace() {
		case "":
			acc.SetNamespace(ns)
		case ns:
		default:
			return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		if err := s.checkNamespaceOpen(ctx, ep, ns, acc.GetName()); err != nil {
			return nil, err
		}
	} else {
		acc.SetNamespace("")
	}
	if acc.GetResourceVersion() != "" {
		return nil, apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	generated := false
	if acc.GetName() == "" && acc.GetGenerateName() != "" {
		acc.SetName(generateName(acc.GetGenerateName()))
		generated = true
	}
	acc.SetUID(uuid.NewUUID())
	acc.SetCreationTimestamp(metav1.NewTime(s.now()))
	acc.SetDeletionTimestamp(nil)
	acc.SetDeletionGracePeriodSeconds(nil)
	acc.SetGeneration(0)
	acc.SetSelfLink("")
	if res.Default != nil {
		res.Default(obj)
	}
	if res.PrepareForCreate != nil {
		res.PrepareForCreate(obj)
	}
	if res.GenerationChanged != nil {
		acc.SetGeneration(1)
	}
	if acc.GetName() == "" {
		return nil, invalid(ep, "", field.ErrorList{field.Required(field.NewPath("metadata", "name"), "name or generateName is required")})
	}
	if res.Validate != nil {
		if errs := res.Validate(obj); len(errs) > 0 {
			return nil, invalid(ep, acc.GetName(), errs)
		}
	}
	ep.setKind(obj)
	if !o.managedDone {
		live := res.New()
		ep.setKind(live)
		obj = ep.fieldManager.UpdateNoErrors(live, obj, o.fieldManager)
		if acc, err = meta.Accessor(obj); err != nil {
			return nil, err
		}
	}
	undo := func() {}
	if res.BeforeCreate != nil {
		u, err := res.BeforeCreate(ctx, obj, o.dryRun)
		if err != nil {
			return nil, toAPIError(err, ep.res.GroupResource(), acc.GetName())
		}
		if u != nil {
			undo = u
		}
	}
	if o.dryRun {
		undo()
		return obj, nil
	}
	out := res.New()
	for attempt := 0; ; attempt++ {
		err = ep.store.Create(ctx, ep.key(ns, acc.GetName()), obj, out)
		if err == nil {
			return out, nil
		}
		if generated && errors.Is(err, storage.ErrAlreadyExists) && attempt < 7 {
			acc.SetName(generateName(acc.GetGenerateName()))
			continue
		}
		undo()
		return nil, toAPIError(err, ep.res.GroupResource(), acc.GetName())
	}
}

func generateName(base string) string {
	const maxNameLength, randomLength = 63, 5
	if len(base) > maxNameLength-randomLength {
		base = base[:maxNameLength-randomLength]
	}
	return base + utilrand.String(randomLength)
}

func invalid(ep *endpoint, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(ep.gvk.GroupKind(), name, errs)
}

// checkNamespaceOpen refuses creation in a namespace that does not exist
// or is terminating, as the NamespaceLifecycle admission plugin does.
func (s *Server) checkNamespaceOpen(ctx context.Context, ep *endpoint, ns, name string) error {
	nsEP := s.namespaces()
	if nsEP == nil {
		return nil
	}
	obj, ok := s.cachedNamespace(ns)
	if !ok {
		// Not cached (yet): created through another server a moment
		// ago, or the cache is still filling. Ask etcd.
		obj = nsEP.res.New()
		if err := nsEP.store.Get(ctx, nsEP.key("", ns), storage.GetOptions{ResourceVersion: "0"}, obj); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return apierrors.NewNotFound(nsEP.res.GroupResource(), ns)
			}
			return toAPIError(err, nsEP.res.GroupResource(), ns)
		}
	}
	m, _ := meta.Accessor(obj)
	if m.GetDeletionTimestamp() != nil {
		return apierrors.NewForbidden(ep.res.GroupResource(), name,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
	}
	return nil
}

// cachedNamespace is the namespace from the namespace cache, if it has it.
func (s *Server) cachedNamespace(name string) (runtime.Object, bool) {
	if s.namespaceCache == nil {
		return nil, false
	}
	obj, ok, _ := s.namespaceCache.Get("", name)
	return obj, ok
}
