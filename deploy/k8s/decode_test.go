package k8s_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// kinds are the apiVersions and kinds the manifests may hold, each with
// the Go type it decodes into. Any other (a typo in apiVersion or kind, a
// removed API version, or a kind nobody added here) is refused.
var kinds = map[string]func() metav1.Object{
	"v1 Namespace":                           func() metav1.Object { return new(corev1.Namespace) },
	"v1 ConfigMap":                           func() metav1.Object { return new(corev1.ConfigMap) },
	"v1 Secret":                              func() metav1.Object { return new(corev1.Secret) },
	"v1 Service":                             func() metav1.Object { return new(corev1.Service) },
	"apps/v1 Deployment":                     func() metav1.Object { return new(appsv1.Deployment) },
	"batch/v1 Job":                           func() metav1.Object { return new(batchv1.Job) },
	"policy/v1 PodDisruptionBudget":          func() metav1.Object { return new(policyv1.PodDisruptionBudget) },
	"autoscaling/v2 HorizontalPodAutoscaler": func() metav1.Object { return new(autoscalingv2.HorizontalPodAutoscaler) },
	"keda.sh/v1alpha1 ScaledObject":          func() metav1.Object { return new(scaledObject) },
	"keda.sh/v1alpha1 TriggerAuthentication": func() metav1.Object { return new(triggerAuthentication) },
}

// KEDA's kinds are not in k8s.io/api, and its Go module
// (github.com/kedacore/keda/v2) would bring a controller's dependencies
// for two structs. scaledObject and triggerAuthentication mirror the
// fields of KEDA's keda.sh/v1alpha1 types (apis/keda/v1alpha1 in KEDA's
// repository) that these manifests use, with KEDA's JSON names, and decode
// as strictly as the Kubernetes types: a field KEDA has but these structs
// lack is refused until it is added here, a field KEDA does not have is
// refused for good. metav1.ObjectMeta and the HPA behavior are the
// Kubernetes types, as in KEDA.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef  scaleTarget `json:"scaleTargetRef"`
		PollingInterval *int32      `json:"pollingInterval,omitempty"`
		CooldownPeriod  *int32      `json:"cooldownPeriod,omitempty"`
		MinReplicaCount *int32      `json:"minReplicaCount,omitempty"`
		MaxReplicaCount *int32      `json:"maxReplicaCount,omitempty"`
		Advanced        *struct {
			HorizontalPodAutoscalerConfig *struct {
				Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
			} `json:"horizontalPodAutoscalerConfig,omitempty"`
		} `json:"advanced,omitempty"`
		Triggers []scaleTrigger `json:"triggers"`
	} `json:"spec"`
}

type scaleTarget struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name"`
}

type scaleTrigger struct {
	Type              string            `json:"type"`
	Metadata          map[string]string `json:"metadata"`
	AuthenticationRef *struct {
		Name string `json:"name"`
	} `json:"authenticationRef,omitempty"`
}

// triggerAuthentication mirrors KEDA's TriggerAuthentication as
// scaledObject does its ScaledObject.
type triggerAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretTargetRef []struct {
			Parameter string `json:"parameter"`
			Name      string `json:"name"`
			Key       string `json:"key"`
		} `json:"secretTargetRef"`
	} `json:"spec"`
}

// kustomization mirrors the fields of kustomize's Kustomization
// (kustomize.config.k8s.io/v1beta1, sigs.k8s.io/kustomize/api/types) that
// kustomization.yaml uses: kustomize is not in go.mod either. Decoded
// strictly like the rest.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
}

// object is one document of a manifest file, decoded into its type.
type object struct {
	metav1.Object // the typed object: *appsv1.Deployment, *scaledObject, ...
	file          string
	doc           int    // document number in file, from 1
	kind          string // apiVersion and kind, "apps/v1 Deployment"
}

func (o *object) String() string {
	return o.file + ": " + o.kind[strings.LastIndexByte(o.kind, ' ')+1:] + " " + o.GetName()
}

// decodeStrict decodes one YAML document into v the way the API server's
// strict field validation (kubectl apply --validate=strict) reads it:
// sigs.k8s.io/yaml turns it into JSON refusing duplicate keys, and
// sigs.k8s.io/json decodes that into v refusing unknown fields and fields
// spelled in another case (encoding/json would take "Replicas" for
// "replicas"). Values of the wrong type (a quoted containerPort, a
// resource quantity that does not parse, Secret data that is not base64)
// fail too.
func decodeStrict(doc []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// decodeManifests splits a manifest file into its YAML documents (on
// "---" lines, as kubectl does) and decodes each into the type of its
// apiVersion and kind; documents of comments only are skipped. Every
// document's error is returned, each naming file and document number.
func decodeManifests(file string, b []byte) ([]*object, error) {
	var out []*object
	var errs []error
	r := kyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("%s, document %d: %w", file, n, err)
		}
		where := fmt.Sprintf("%s, document %d", file, n)
		j, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
			continue // comments only
		}
		var tm metav1.TypeMeta
		if err := json.Unmarshal(j, &tm); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		kind := tm.APIVersion + " " + tm.Kind
		newObject := kinds[kind]
		if newObject == nil {
			errs = append(errs, fmt.Errorf("%s: apiVersion %q kind %q is not a kind these manifests are checked for", where, tm.APIVersion, tm.Kind))
			continue
		}
		o := newObject()
		if err := decodeStrict(doc, o); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", where, kind, err))
			continue
		}
		out = append(out, &object{Object: o, file: file, doc: n, kind: kind})
	}
	return out, errors.Join(errs...)
}

// The decoding refuses what kubectl apply --validate=strict would (and
// what a lenient decoder would silently drop, leaving the manifest
// checked against defaults instead of what it says).
func TestDecodeRefuses(t *testing.T) {
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
spec:
  replicas: 2
  selector:
    matchLabels: {app: x}
  template:
    metadata:
      labels: {app: x}
    spec:
      containers:
        - name: x
          image: x
          ports:
            - name: http
              containerPort: 8088
`
	objs, err := decodeManifests("ok.yaml", []byte("# comment only\n---\n"+deployment))
	if err != nil || len(objs) != 1 {
		t.Fatalf("a valid Deployment: %v, %d objects", err, len(objs))
	}
	d, ok := objs[0].Object.(*appsv1.Deployment)
	if !ok || *d.Spec.Replicas != 2 || d.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort != 8088 || objs[0].doc != 2 {
		t.Fatalf("decoded %#v", objs[0])
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"misspelled field", "replicas:", "replicsa:", `unknown field "spec.replicsa"`},
		{"field in another case", "replicas:", "Replicas:", `unknown field "spec.Replicas"`},
		{"nested misspelled field", "containerPort:", "containerPrt:", `unknown field "spec.template.spec.containers[0].ports[0].containerPrt"`},
		{"duplicate key", "replicas: 2", "replicas: 2\n  replicas: 3", "already set in map"},
		{"wrong type", "containerPort: 8088", `containerPort: "8088"`, "cannot unmarshal string"},
		{"misspelled kind", "kind: Deployment", "kind: Deploymnet", "is not a kind"},
		{"old apiVersion", "apps/v1", "extensions/v1beta1", "is not a kind"},
		{"broken YAML", "  replicas: 2", "  replicas: [2", "yaml"},
	} {
		doc := strings.Replace(deployment, c.old, c.new, 1)
		if doc == deployment {
			t.Fatalf("%s: %q not in the manifest", c.name, c.old)
		}
		_, err := decodeManifests("bad.yaml", []byte(deployment+"---\n"+doc))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.yaml, document 2") {
			t.Errorf("%s: error %v, want one about document 2 containing %q", c.name, err, c.want)
		}
	}

	// The local KEDA and kustomize structs are as strict.
	const so = "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: x}\n" +
		"spec:\n  scaleTargetRef: {name: x}\n  minReplicaCount: 1\n  triggers: [{type: kafka, metadata: {topic: t}}]\n"
	if _, err := decodeManifests("so.yaml", []byte(so)); err != nil {
		t.Fatalf("a valid ScaledObject: %v", err)
	}
	if _, err := decodeManifests("so.yaml", []byte(strings.Replace(so, "minReplicaCount", "minReplicaCont", 1))); err == nil || !strings.Contains(err.Error(), `unknown field "spec.minReplicaCont"`) {
		t.Errorf("a misspelled ScaledObject field: %v", err)
	}
	var k kustomization
	if err := decodeStrict([]byte("kind: Kustomization\nresource: [a.yaml]\n"), &k); err == nil || !strings.Contains(err.Error(), `unknown field "resource"`) {
		t.Errorf("a misspelled kustomization field: %v", err)
	}
}
