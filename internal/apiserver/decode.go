package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// readBody reads the request body within the size limit. A body of
// declared length (what client-go sends) is read into one buffer of that
// size; net/http holds the client to the length, and withBodyLimit has
// checked it against the limit.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var data []byte
	var err error
	if n := r.ContentLength; n > 0 {
		data = make([]byte, n)
		_, err = io.ReadFull(r.Body, data)
	} else {
		data, err = io.ReadAll(r.Body)
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", tooLarge.Limit))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading request body: %v", err))
	}
	return data, nil
}

// serializerFor returns the decoder for a request media type.
func (s *Server) serializerFor(mediaType string) (runtime.SerializerInfo, bool) {
	for _, info := range s.codecs.SupportedMediaTypes() {
		if info.MediaType == mediaType {
			return info, true
		}
	}
	return runtime.SerializerInfo{}, false
}

// decodeInto decodes data of mediaType as an object of kind want. With
// fieldValidation Strict, unknown and duplicate fields are a 400; with
// Warn they come back as warnings.
func (s *Server) decodeInto(data []byte, mediaType string, want schema.GroupVersionKind, into runtime.Object, fieldValidation string) (runtime.Object, []string, error) {
	info, ok := s.serializerFor(mediaType)
	if !ok {
		return nil, nil, errUnsupportedMediaType(mediaType)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, nil, apierrors.NewBadRequest("the request body is empty; an object is required")
	}
	dec := info.Serializer
	if fieldValidation != metav1.FieldValidationIgnore && info.StrictSerializer != nil {
		dec = info.StrictSerializer
	}
	obj, gvk, err := dec.Decode(data, &want, into)
	var warnings []string
	if err != nil {
		if obj != nil && runtime.IsStrictDecodingError(err) {
			if fieldValidation == metav1.FieldValidationStrict {
				return nil, nil, apierrors.NewBadRequest(err.Error())
			}
			warnings = append(warnings, strictWarnings(err)...)
		} else if runtime.IsNotRegisteredError(err) {
			return nil, nil, kindMismatch(data, mediaType, want)
		} else {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("decoding %s body: %v", mediaType, err))
		}
	}
	if gvk != nil && (gvk.Group != want.Group || gvk.Version != want.Version) {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf(
			"the API version in the data (%s) does not match the expected API version (%s)",
			gvk.GroupVersion(), want.GroupVersion()))
	}
	if gvk != nil && gvk.Kind != want.Kind {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf(
			"the kind in the data (%s) does not match the expected kind (%s)", gvk.Kind, want.Kind))
	}
	return obj, warnings, nil
}

// kindMismatch explains a body whose apiVersion/kind is not what the URL
// serves.
func kindMismatch(data []byte, mediaType string, want schema.GroupVersionKind) error {
	var tm metav1.TypeMeta
	if mediaType == mediaYAML {
		data, _ = yaml.YAMLToJSON(data)
	}
	_ = json.Unmarshal(data, &tm)
	got := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
	if got.GroupVersion() != want.GroupVersion() {
		return apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)",
			got.GroupVersion(), want.GroupVersion()))
	}
	return apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", got.Kind, want.Kind))
}

func strictWarnings(err error) []string {
	if se, ok := runtime.AsStrictDecodingError(err); ok {
		var out []string
		for _, e := range se.Errors() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

// decodeBody reads and decodes the request body as an object of ep's kind.
func (s *Server) decodeBody(r *http.Request, ep *endpoint, fieldValidation string) (runtime.Object, []string, error) {
	data, err := readBody(r)
	if err != nil {
		return nil, nil, err
	}
	return s.decodeInto(data, requestMediaType(r), ep.gvk, ep.res.New(), fieldValidation)
}

// writeWarnings adds Warning headers as upstream formats them.
func writeWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", msg))
	}
}

func badRequest(msg string) error { return apierrors.NewBadRequest(msg) }

func errNotAcceptable(r *http.Request) error {
	return apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "",
		fmt.Sprintf("only the following media types are accepted: %s, %s, %s", mediaJSON, mediaYAML, mediaProtobuf), 0, false)
}
