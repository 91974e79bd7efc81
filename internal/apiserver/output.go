package apiserver

import (
	"encoding/json"
	"net/http"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/internal/jsonenc"
)

// writeObject encodes obj in the negotiated media type (JSON unless the
// client prefers YAML or protobuf), gzipped when it is large and the
// client accepts that (compress.go). obj must carry its kind and
// apiVersion.
//
// The response is completed only when encoding returns: after a panic,
// nothing held back is sent, so the recovery's 500 can still be.
func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, code int, obj runtime.Object) {
	w, done := s.compressing(w, r)
	format, ok := negotiate(r)
	if !ok {
		format = outputFormat{MediaType: mediaJSON}
	}
	s.encode(w, format.MediaType, code, obj)
	done()
}

func (s *Server) encode(w http.ResponseWriter, mediaType string, code int, obj runtime.Object) {
	if st, ok := obj.(*metav1.Status); ok && st.Kind == "" {
		st.Kind, st.APIVersion = "Status", "v1"
	}
	if items, lm, ok := streamableList(obj); ok && (mediaType == mediaProtobuf || mediaType == mediaJSON) {
		s.streamList(w, mediaType, code, obj, items, lm)
		return
	}
	switch mediaType {
	case mediaProtobuf:
		w.Header().Set("Content-Type", mediaProtobuf)
		w.WriteHeader(code)
		if err := protobuf.NewSerializer(s.scheme, s.scheme).Encode(obj, w); err != nil {
			s.log.Warn("encoding protobuf response", "err", err)
		}
	case mediaYAML:
		data, err := yaml.Marshal(obj)
		if err != nil {
			s.encode(w, mediaJSON, http.StatusInternalServerError, statusPtr(err))
			return
		}
		w.Header().Set("Content-Type", mediaYAML)
		w.WriteHeader(code)
		_, _ = w.Write(data)
	default:
		data, err := jsonenc.Marshal(obj)
		if err != nil {
			st := statusOf(err)
			data, _ = json.Marshal(&st)
			code = http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", mediaJSON)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)+1))
		w.WriteHeader(code)
		_, _ = w.Write(data)
		_, _ = w.Write([]byte{'\n'})
	}
}

// streamList writes a list item by item (liststream.go). An error after
// the first bytes can only cut the response short, as upstream's
// streaming encoders do; it is logged.
func (s *Server) streamList(w http.ResponseWriter, mediaType string, code int, list runtime.Object, items []runtime.Object, lm metav1.ListInterface) {
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(code)
	var err error
	if mediaType == mediaProtobuf {
		err = writeProtobufList(w, list, items, lm)
	} else {
		err = writeJSONList(w, list, items, lm)
	}
	if err != nil {
		s.log.Warn("streaming a list response", "kind", list.GetObjectKind().GroupVersionKind().Kind, "err", err)
	}
}

func statusPtr(err error) *metav1.Status {
	st := statusOf(err)
	return &st
}

// writeResource writes an object or list of ep's kind, converting it to a
// Table or PartialObjectMetadata(List) when the client asks for one, and
// gzipped as writeObject's.
func (s *Server) writeResource(w http.ResponseWriter, r *http.Request, ep *endpoint, code int, obj runtime.Object) {
	w, done := s.compressing(w, r)
	s.writeConverted(w, r, ep, code, obj)
	done()
}

func (s *Server) writeConverted(w http.ResponseWriter, r *http.Request, ep *endpoint, code int, obj runtime.Object) {
	format, ok := negotiate(r, "Table", "PartialObjectMetadata", "PartialObjectMetadataList")
	if !ok {
		s.writeError(w, r, errNotAcceptable(r))
		return
	}
	if format.As == "Table" && format.MediaType == mediaJSON && meta.IsListType(obj) {
		s.streamTable(w, r, ep, code, obj, format.Version)
		return
	}
	out, err := s.convertOutput(r, ep, format, obj)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.encode(w, format.MediaType, code, out)
}

// streamTable writes a list as a JSON Table row by row (table.go), as
// streamList does lists.
func (s *Server) streamTable(w http.ResponseWriter, r *http.Request, ep *endpoint, code int, list runtime.Object, version string) {
	b, err := s.newTableBuilder(r, ep)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", mediaJSON)
	w.WriteHeader(code)
	if err := writeJSONTable(w, b, list, version); err != nil {
		s.log.Warn("streaming a table response", "kind", ep.gvk.Kind, "err", err)
	}
}

// convertOutput sets kinds and applies an as= conversion.
func (s *Server) convertOutput(r *http.Request, ep *endpoint, format outputFormat, obj runtime.Object) (runtime.Object, error) {
	isList := meta.IsListType(obj)
	switch format.As {
	case "Table":
		return s.toTable(r, ep, obj, format.Version, true)
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		return toPartialMetadata(obj, isList, format.Version)
	}
	if isList {
		obj.GetObjectKind().SetGroupVersionKind(ep.listGVK)
		_ = meta.EachListItem(obj, func(item runtime.Object) error {
			item.GetObjectKind().SetGroupVersionKind(ep.gvk)
			return nil
		})
	} else if obj.GetObjectKind().GroupVersionKind().Kind == "" {
		ep.setKind(obj)
	}
	return obj, nil
}

// toPartialMetadata keeps only metadata, as the metadata client and the
// garbage collector ask.
func toPartialMetadata(obj runtime.Object, isList bool, version string) (runtime.Object, error) {
	apiVersion := "meta.k8s.io/" + version
	if !isList {
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, err
		}
		p := &metav1.PartialObjectMetadata{ObjectMeta: *objectMetaOf(m)}
		p.Kind, p.APIVersion = "PartialObjectMetadata", apiVersion
		return p, nil
	}
	list := &metav1.PartialObjectMetadataList{}
	list.Kind, list.APIVersion = "PartialObjectMetadataList", apiVersion
	if lm, err := meta.ListAccessor(obj); err == nil {
		list.ResourceVersion, list.Continue, list.RemainingItemCount = lm.GetResourceVersion(), lm.GetContinue(), lm.GetRemainingItemCount()
	}
	err := meta.EachListItem(obj, func(item runtime.Object) error {
		m, err := meta.Accessor(item)
		if err != nil {
			return err
		}
		p := metav1.PartialObjectMetadata{ObjectMeta: *objectMetaOf(m)}
		p.Kind, p.APIVersion = "PartialObjectMetadata", apiVersion
		list.Items = append(list.Items, p)
		return nil
	})
	return list, err
}

func objectMetaOf(m metav1.Object) *metav1.ObjectMeta {
	if om, ok := m.(*metav1.ObjectMeta); ok {
		return om.DeepCopy()
	}
	return &metav1.ObjectMeta{
		Name: m.GetName(), GenerateName: m.GetGenerateName(), Namespace: m.GetNamespace(),
		UID: m.GetUID(), ResourceVersion: m.GetResourceVersion(), Generation: m.GetGeneration(),
		CreationTimestamp: m.GetCreationTimestamp(), DeletionTimestamp: m.GetDeletionTimestamp(),
		DeletionGracePeriodSeconds: m.GetDeletionGracePeriodSeconds(), Labels: m.GetLabels(),
		Annotations: m.GetAnnotations(), OwnerReferences: m.GetOwnerReferences(),
		Finalizers: m.GetFinalizers(), ManagedFields: m.GetManagedFields(),
	}
}
