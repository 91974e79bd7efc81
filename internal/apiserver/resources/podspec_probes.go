package resources

import (
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateContainerProbes checks probes and lifecycle hooks. Init
// containers other than sidecars (restartPolicy Always) and ephemeral
// containers may have neither.
func validateContainerProbes(c *corev1.Container, kind containerKind, fldPath *field.Path) field.ErrorList {
	sidecar := kind == initContainer && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
	if kind == ephemeralContainer || (kind == initContainer && !sidecar) {
		msg := "may not be set for init containers without restartPolicy=Always"
		if kind == ephemeralContainer {
			msg = "cannot be set for an Ephemeral Container"
		}
		var errs field.ErrorList
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"lifecycle", c.Lifecycle != nil},
			{"livenessProbe", c.LivenessProbe != nil},
			{"readinessProbe", c.ReadinessProbe != nil},
			{"startupProbe", c.StartupProbe != nil},
		} {
			if f.set {
				errs = append(errs, field.Forbidden(fldPath.Child(f.name), msg))
			}
		}
		return errs
	}

	var errs field.ErrorList
	if lc := c.Lifecycle; lc != nil {
		errs = append(errs, validateLifecycleHandler(lc.PostStart, fldPath.Child("lifecycle", "postStart"))...)
		errs = append(errs, validateLifecycleHandler(lc.PreStop, fldPath.Child("lifecycle", "preStop"))...)
	}
	for _, p := range []struct {
		name        string
		probe       *corev1.Probe
		mustSucceed bool // liveness and startup probes succeed once
	}{
		{"livenessProbe", c.LivenessProbe, true},
		{"readinessProbe", c.ReadinessProbe, false},
		{"startupProbe", c.StartupProbe, true},
	} {
		if p.probe == nil {
			continue
		}
		path := fldPath.Child(p.name)
		errs = append(errs, validateProbe(p.probe, path)...)
		if p.mustSucceed && p.probe.SuccessThreshold != 1 {
			errs = append(errs, field.Invalid(path.Child("successThreshold"), p.probe.SuccessThreshold, "must be 1"))
		}
		if !p.mustSucceed && p.probe.TerminationGracePeriodSeconds != nil {
			errs = append(errs, field.Invalid(path.Child("terminationGracePeriodSeconds"), *p.probe.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
		}
	}
	return errs
}

func validateProbe(p *corev1.Probe, fldPath *field.Path) field.ErrorList {
	h := p.ProbeHandler
	errs := validateHandlers(fldPath, []probeHandler{
		{"exec", h.Exec != nil, func(fp *field.Path) field.ErrorList { return validateExecAction(h.Exec, fp) }},
		{"httpGet", h.HTTPGet != nil, func(fp *field.Path) field.ErrorList { return validateHTTPGetAction(h.HTTPGet, fp) }},
		{"tcpSocket", h.TCPSocket != nil, func(fp *field.Path) field.ErrorList {
			return validatePortNumOrName(h.TCPSocket.Port, fp.Child("port"))
		}},
		{"grpc", h.GRPC != nil, func(fp *field.Path) field.ErrorList {
			return validatePortNumOrName(intstr.FromInt32(h.GRPC.Port), fp.Child("port"))
		}},
	})
	for _, f := range []struct {
		name  string
		value int32
	}{
		{"initialDelaySeconds", p.InitialDelaySeconds},
		{"timeoutSeconds", p.TimeoutSeconds},
		{"periodSeconds", p.PeriodSeconds},
		{"successThreshold", p.SuccessThreshold},
		{"failureThreshold", p.FailureThreshold},
	} {
		errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(f.value), fldPath.Child(f.name))...)
	}
	if v := p.TerminationGracePeriodSeconds; v != nil && *v <= 0 {
		errs = append(errs, field.Invalid(fldPath.Child("terminationGracePeriodSeconds"), *v, "must be greater than 0"))
	}
	return errs
}

func validateLifecycleHandler(h *corev1.LifecycleHandler, fldPath *field.Path) field.ErrorList {
	if h == nil {
		return nil
	}
	return validateHandlers(fldPath, []probeHandler{
		{"exec", h.Exec != nil, func(fp *field.Path) field.ErrorList { return validateExecAction(h.Exec, fp) }},
		{"httpGet", h.HTTPGet != nil, func(fp *field.Path) field.ErrorList { return validateHTTPGetAction(h.HTTPGet, fp) }},
		{"tcpSocket", h.TCPSocket != nil, func(fp *field.Path) field.ErrorList {
			return validatePortNumOrName(h.TCPSocket.Port, fp.Child("port"))
		}},
		{"sleep", h.Sleep != nil, func(fp *field.Path) field.ErrorList {
			return apimachineryvalidation.ValidateNonnegativeField(h.Sleep.Seconds, fp.Child("seconds"))
		}},
	})
}

// probeHandler is one of the mutually exclusive actions of a probe or hook.
type probeHandler struct {
	name  string
	set   bool
	check func(*field.Path) field.ErrorList
}

// validateHandlers requires exactly one handler to be set and checks it.
func validateHandlers(fldPath *field.Path, handlers []probeHandler) field.ErrorList {
	var errs field.ErrorList
	n := 0
	for _, h := range handlers {
		if !h.set {
			continue
		}
		if n++; n > 1 {
			errs = append(errs, field.Forbidden(fldPath.Child(h.name), "may not specify more than 1 handler type"))
			continue
		}
		errs = append(errs, h.check(fldPath.Child(h.name))...)
	}
	if n == 0 {
		errs = append(errs, field.Required(fldPath, "must specify a handler type"))
	}
	return errs
}

func validateExecAction(e *corev1.ExecAction, fldPath *field.Path) field.ErrorList {
	if len(e.Command) == 0 {
		return field.ErrorList{field.Required(fldPath.Child("command"), "")}
	}
	return nil
}

func validateHTTPGetAction(h *corev1.HTTPGetAction, fldPath *field.Path) field.ErrorList {
	errs := validatePortNumOrName(h.Port, fldPath.Child("port"))
	if h.Scheme != corev1.URISchemeHTTP && h.Scheme != corev1.URISchemeHTTPS {
		errs = append(errs, field.NotSupported(fldPath.Child("scheme"), h.Scheme, []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}))
	}
	for i, hdr := range h.HTTPHeaders {
		for _, msg := range validation.IsHTTPHeaderName(hdr.Name) {
			errs = append(errs, field.Invalid(fldPath.Child("httpHeaders").Index(i).Child("name"), hdr.Name, msg))
		}
	}
	return errs
}

// validatePortNumOrName checks a port given as a number (1-65535) or as
// the name of a container port (an IANA service name).
func validatePortNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	var msgs []string
	var value interface{}
	if port.Type == intstr.Int {
		msgs, value = validation.IsValidPortNum(port.IntValue()), port.IntValue()
	} else {
		msgs, value = validation.IsValidPortName(port.StrVal), port.StrVal
	}
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}
