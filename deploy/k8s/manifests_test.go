// Package k8s_test checks the Kubernetes manifests. Every document of every
// file kustomization.yaml lists is decoded into its Kubernetes API type
// (k8s.io/api; KEDA's and kustomize's kinds into local structs mirroring
// their fields, see decode_test.go) with unknown, duplicate and
// wrongly-cased fields refused, as kubectl apply --validate=strict does.
// The typed objects are then checked against what the binaries accept:
// every sightline container's arguments are a command and flags of the
// CLI, its config file (the ConfigMap's) loads with internal/config, its
// probes and ports follow from http_addr; the collector's config loads and
// validates as sightline-collector's own, its ports and probes follow from
// it; every password_env is an environment variable from an existing
// Secret key, every mounted file (config, Kafka CA) is a key of a mounted
// ConfigMap or Secret; KEDA measures the lag of the groups and topics the
// stages consume, with their brokers and credentials; selectors, resource
// requests and the namespace's restricted Pod Security level hold. It does
// not run the API server's own validation (run `kubectl apply
// --dry-run=server -k deploy/k8s` against a cluster for that).
package k8s_test

import (
	"context"
	"io"
	"iter"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"github.com/sightline-dev/sightline/collector/distribution"
	"github.com/sightline-dev/sightline/collector/sightlineexporter"
	"github.com/sightline-dev/sightline/internal/cli"
	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/sdk"
)

const (
	namespace = "sightline"
	image     = "ghcr.io/sightline-dev/sightline:" + sdk.Version
)

// load decodes kustomization.yaml and every manifest it lists, strictly
// (decodeManifests), and checks what holds for every object: it is
// listed once, named validly, in the kustomization's namespace or none.
func load(t *testing.T) []*object {
	t.Helper()
	var k kustomization
	if err := decodeStrict(read(t, "kustomization.yaml"), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" || k.Namespace != namespace {
		t.Fatalf("kustomization.yaml: apiVersion %q, kind %q, namespace %q", k.APIVersion, k.Kind, k.Namespace)
	}
	files, _ := filepath.Glob("*.yaml")
	files = slices.DeleteFunc(files, func(f string) bool { return f == "kustomization.yaml" })
	if got := slices.Sorted(slices.Values(k.Resources)); !slices.Equal(got, files) {
		t.Fatalf("kustomization.yaml lists %v, the directory holds %v: a manifest would not be applied", got, files)
	}
	var out []*object
	seen := map[string]*object{}
	for _, f := range k.Resources {
		objs, err := decodeManifests(f, read(t, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if errs := validation.IsDNS1123Subdomain(o.GetName()); len(errs) > 0 {
				t.Errorf("%s, document %d: metadata.name %q: %s", o.file, o.doc, o.GetName(), strings.Join(errs, "; "))
			}
			if ns := o.GetNamespace(); ns != "" && ns != namespace {
				t.Errorf("%s: namespace %s, want %s (or none: kustomization sets it)", o, ns, namespace)
			}
			id := o.kind + " " + o.GetName()
			if prev := seen[id]; prev != nil {
				t.Errorf("%s: also defined in %s, document %d: one would replace the other", o, prev.file, prev.doc)
			}
			seen[id] = o
			out = append(out, o)
		}
	}
	return out
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// each yields the objects of type T (*appsv1.Deployment, *scaledObject,
// ...) with their object, for messages.
func each[T metav1.Object](objs []*object) iter.Seq2[*object, T] {
	return func(yield func(*object, T) bool) {
		for _, o := range objs {
			if v, ok := o.Object.(T); ok && !yield(o, v) {
				return
			}
		}
	}
}

// find is the object of type T named name.
func find[T metav1.Object](objs []*object, name string) (T, bool) {
	for _, v := range each[T](objs) {
		if v.GetName() == name {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// keysOf is the keys a ConfigMap or Secret holds, nil if none of that
// kind and name is defined.
func keysOf(objs []*object, kind, name string) map[string]string {
	keys := map[string]string{}
	switch kind {
	case "ConfigMap":
		cm, ok := find[*corev1.ConfigMap](objs, name)
		if !ok {
			return nil
		}
		for k, v := range cm.Data {
			keys[k] = v
		}
		for k, v := range cm.BinaryData {
			keys[k] = string(v)
		}
	case "Secret":
		s, ok := find[*corev1.Secret](objs, name)
		if !ok {
			return nil
		}
		for k, v := range s.Data {
			keys[k] = string(v)
		}
		for k, v := range s.StringData {
			keys[k] = v
		}
	default:
		return nil
	}
	return keys
}

// pod is the pod template of a Deployment or Job, nil for other kinds.
func pod(o *object) *corev1.PodTemplateSpec {
	switch v := o.Object.(type) {
	case *appsv1.Deployment:
		return &v.Spec.Template
	case *batchv1.Job:
		return &v.Spec.Template
	}
	return nil
}

func containers(spec *corev1.PodSpec) []corev1.Container {
	return slices.Concat(spec.InitContainers, spec.Containers)
}

// portNumber resolves a port given as a number or as the name of one of
// the container's ports; 0 when the name is none of them.
func portNumber(c *corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return 0
}

// namedPort is the number of the container's port called name, 0 if none.
func namedPort(c *corev1.Container, name string) int32 {
	return portNumber(c, intstr.FromString(name))
}

// mounted is the ConfigMap or Secret key a container sees at file: kind,
// name and key; ok is false when no volume mount of either holds file
// (with items, only the keys listed are files).
func mounted(spec *corev1.PodSpec, c *corev1.Container, file string) (kind, name, key string, ok bool) {
	for _, m := range c.VolumeMounts {
		rel, found := strings.CutPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
		if m.SubPath != "" {
			rel, found = m.SubPath, file == m.MountPath
		}
		if !found {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			var items []corev1.KeyToPath
			switch {
			case v.ConfigMap != nil:
				kind, name, items = "ConfigMap", v.ConfigMap.Name, v.ConfigMap.Items
			case v.Secret != nil:
				kind, name, items = "Secret", v.Secret.SecretName, v.Secret.Items
			default:
				return "", "", "", false
			}
			if len(items) == 0 {
				return kind, name, rel, true
			}
			for _, it := range items {
				if it.Path == rel {
					return kind, name, it.Key, true
				}
			}
			return "", "", "", false
		}
	}
	return "", "", "", false
}

// secretEnv is the Secret and key the container's environment variable
// env comes from; ok is false when env is not set from a Secret.
func secretEnv(c *corev1.Container, env string) (name, key string, ok bool) {
	for _, e := range c.Env {
		if e.Name == env && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			return e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key, true
		}
	}
	return "", "", false
}

// Every Secret and ConfigMap a pod or a KEDA TriggerAuthentication refers
// to exists and holds the key; every scaler's target exists.
func TestReferencesResolve(t *testing.T) {
	objs := load(t)
	ref := func(where, kind, name, key string) {
		keys := keysOf(objs, kind, name)
		_, has := keys[key]
		switch {
		case keys == nil:
			t.Errorf("%s: refers to %s %s, which no manifest defines", where, kind, name)
		case key != "" && !has:
			t.Errorf("%s: refers to key %s of %s %s, which it does not hold", where, key, kind, name)
		}
	}
	n := 0
	for _, o := range objs {
		tpl := pod(o)
		if tpl == nil {
			continue
		}
		for _, c := range containers(&tpl.Spec) {
			n++
			for _, e := range c.Env {
				where := o.String() + " container " + c.Name + " env " + e.Name
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					ref(where, "Secret", e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
				}
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					ref(where, "ConfigMap", e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Key)
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.SecretRef != nil {
					ref(o.String()+" container "+c.Name+" envFrom", "Secret", ef.SecretRef.Name, "")
				}
				if ef.ConfigMapRef != nil {
					ref(o.String()+" container "+c.Name+" envFrom", "ConfigMap", ef.ConfigMapRef.Name, "")
				}
			}
			for _, m := range c.VolumeMounts {
				if !slices.ContainsFunc(tpl.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name }) {
					t.Errorf("%s container %s: mounts volume %s, which the pod does not have", o, c.Name, m.Name)
				}
			}
		}
		for _, v := range tpl.Spec.Volumes {
			if v.ConfigMap != nil {
				ref(o.String()+" volume "+v.Name, "ConfigMap", v.ConfigMap.Name, "")
				for _, it := range v.ConfigMap.Items {
					ref(o.String()+" volume "+v.Name, "ConfigMap", v.ConfigMap.Name, it.Key)
				}
			}
			if v.Secret != nil {
				ref(o.String()+" volume "+v.Name, "Secret", v.Secret.SecretName, "")
				for _, it := range v.Secret.Items {
					ref(o.String()+" volume "+v.Name, "Secret", v.Secret.SecretName, it.Key)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no containers found: the decoding is broken")
	}
	for o, ta := range each[*triggerAuthentication](objs) {
		for _, s := range ta.Spec.SecretTargetRef {
			ref(o.String()+" parameter "+s.Parameter, "Secret", s.Name, s.Key)
		}
	}
	targets := map[string]string{}
	target := func(o *object, apiVersion, kind, name string) {
		if apiVersion != "apps/v1" || kind != "Deployment" {
			t.Errorf("%s: scales %s %s, want an apps/v1 Deployment", o, apiVersion, kind)
		} else if _, ok := find[*appsv1.Deployment](objs, name); !ok {
			t.Errorf("%s: scales Deployment %s, which no manifest defines", o, name)
		}
		if prev, ok := targets[name]; ok {
			t.Errorf("%s: Deployment %s is scaled by %s too: two autoscalers would fight over its replicas", o, name, prev)
		}
		targets[name] = o.String()
	}
	for o, so := range each[*scaledObject](objs) {
		r := so.Spec.ScaleTargetRef
		// KEDA's defaults for an empty apiVersion and kind.
		target(o, orDefault(r.APIVersion, "apps/v1"), orDefault(r.Kind, "Deployment"), r.Name)
		for _, tr := range so.Spec.Triggers {
			if tr.AuthenticationRef != nil {
				if _, ok := find[*triggerAuthentication](objs, tr.AuthenticationRef.Name); !ok {
					t.Errorf("%s: trigger authentication %s is not defined", o, tr.AuthenticationRef.Name)
				}
			}
		}
	}
	for o, h := range each[*autoscalingv2.HorizontalPodAutoscaler](objs) {
		target(o, h.Spec.ScaleTargetRef.APIVersion, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)
		if h.Spec.MinReplicas != nil && *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			t.Errorf("%s: minReplicas %d above maxReplicas %d", o, *h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Every Deployment's selector selects its own pods and no other
// Deployment's; every Service and PodDisruptionBudget selects the pods of
// a Deployment, and a Service's target ports are ports of those pods.
func TestSelectorsMatchPods(t *testing.T) {
	objs := load(t)
	selector := func(o *object, s *metav1.LabelSelector) labels.Selector {
		if s == nil || (len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0) {
			t.Errorf("%s: no selector", o)
			return nil
		}
		sel, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			t.Errorf("%s: selector: %v", o, err)
			return nil
		}
		return sel
	}
	deployments := map[string]labels.Set{}
	for o, d := range each[*appsv1.Deployment](objs) {
		deployments[d.Name] = d.Spec.Template.Labels
		if sel := selector(o, d.Spec.Selector); sel != nil && !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("%s: selector %s does not match its template's labels %v (the API server refuses it)", o, sel, d.Spec.Template.Labels)
		}
	}
	// matching is the Deployments whose pods sel selects.
	matching := func(sel labels.Selector) []string {
		var out []string
		for name, l := range deployments {
			if sel.Matches(l) {
				out = append(out, name)
			}
		}
		slices.Sort(out)
		return out
	}
	for o, d := range each[*appsv1.Deployment](objs) {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			continue // reported above
		}
		if m := matching(sel); len(m) > 1 {
			t.Errorf("%s: selector %s also selects the pods of %v: the Deployments would fight over them", o, sel, m)
		}
	}
	for o, p := range each[*policyv1.PodDisruptionBudget](objs) {
		sel := selector(o, p.Spec.Selector)
		if sel == nil {
			continue
		}
		if len(matching(sel)) == 0 {
			t.Errorf("%s: selector %s matches no Deployment's pods", o, sel)
		}
		if p.Spec.MaxUnavailable != nil && p.Spec.MaxUnavailable.Type == intstr.Int && p.Spec.MaxUnavailable.IntVal < 1 {
			t.Errorf("%s: maxUnavailable %s: no drain could ever evict a pod", o, p.Spec.MaxUnavailable)
		}
		if (p.Spec.MaxUnavailable == nil) == (p.Spec.MinAvailable == nil) {
			t.Errorf("%s: want exactly one of maxUnavailable and minAvailable", o)
		}
	}
	for o, s := range each[*corev1.Service](objs) {
		if len(s.Spec.Selector) == 0 {
			t.Errorf("%s: no selector", o)
			continue
		}
		sel := labels.SelectorFromSet(s.Spec.Selector)
		m := matching(sel)
		if len(m) == 0 {
			t.Errorf("%s: selector %s matches no Deployment's pods", o, sel)
		}
		for _, name := range m {
			d, _ := find[*appsv1.Deployment](objs, name)
			for _, sp := range s.Spec.Ports {
				tp := sp.TargetPort
				if tp.Type == intstr.Int && tp.IntVal == 0 {
					tp = intstr.FromInt32(sp.Port) // targetPort defaults to port
				}
				if !slices.ContainsFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool {
					n := portNumber(&c, tp)
					return n != 0 && slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == n })
				}) {
					t.Errorf("%s: port %s targets %s, which no container of Deployment %s declares", o, sp.Name, tp.String(), name)
				}
			}
		}
	}
}

// dockerfile is what deploy/Dockerfile builds: the ENTRYPOINT, the paths
// it copies binaries to and the user it runs as.
type dockerfile struct {
	entrypoint string
	binaries   []string
	uid, gid   int64
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	b := read(t, filepath.Join("..", "Dockerfile"))
	var d dockerfile
	m := regexp.MustCompile(`(?m)^ENTRYPOINT \["([^"]+)"\]`).FindSubmatch(b)
	if m == nil {
		t.Fatal("deploy/Dockerfile has no ENTRYPOINT [\"...\"]")
	}
	d.entrypoint = string(m[1])
	for _, m := range regexp.MustCompile(`(?m)^COPY --from=build /out/\S+ (\S+)$`).FindAllSubmatch(b, -1) {
		d.binaries = append(d.binaries, string(m[1]))
	}
	if !slices.Contains(d.binaries, d.entrypoint) {
		t.Fatalf("deploy/Dockerfile does not copy sightline to its ENTRYPOINT %s", d.entrypoint)
	}
	m = regexp.MustCompile(`(?m)^USER (\d+):(\d+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("deploy/Dockerfile has no USER uid:gid")
	}
	d.uid, _ = strconv.ParseInt(string(m[1]), 10, 64)
	d.gid, _ = strconv.ParseInt(string(m[2]), 10, 64)
	return d
}

// Every container of the image runs one of the binaries the Dockerfile
// installs, as the user it creates, and the image is sdk.Version's.
func TestContainersRunTheImage(t *testing.T) {
	objs := load(t)
	docker := readDockerfile(t)
	for _, o := range objs {
		tpl := pod(o)
		if tpl == nil {
			continue
		}
		sc := tpl.Spec.SecurityContext
		for _, c := range containers(&tpl.Spec) {
			where := o.String() + " container " + c.Name
			if !strings.HasPrefix(c.Image, "ghcr.io/sightline-dev/") {
				continue
			}
			if c.Image != image {
				t.Errorf("%s: image %s, want %s (sdk.Version)", where, c.Image, image)
			}
			if len(c.Command) != 1 || !slices.Contains(docker.binaries, c.Command[0]) {
				t.Errorf("%s: command %v, want one of the image's binaries %v", where, c.Command, docker.binaries)
			}
			uid, gid := sc.RunAsUser, sc.RunAsGroup
			if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
				uid = c.SecurityContext.RunAsUser
			}
			if c.SecurityContext != nil && c.SecurityContext.RunAsGroup != nil {
				gid = c.SecurityContext.RunAsGroup
			}
			if (uid != nil && *uid != docker.uid) || (gid != nil && *gid != docker.gid) {
				t.Errorf("%s: runs as %v:%v, the image's user is %d:%d", where, deref(uid), deref(gid), docker.uid, docker.gid)
			}
		}
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// stage is a sightline container's command and its loaded config.
type stage struct {
	cmd string
	cfg config.Config
}

// sightlineStage parses a sightline container's arguments with the CLI
// and loads the config file its --config names from the mounted
// ConfigMap; ok is false (with the reason reported) when it cannot.
func sightlineStage(t *testing.T, objs []*object, spec *corev1.PodSpec, c *corev1.Container, where string) (stage, bool) {
	t.Helper()
	root := cli.NewRoot(io.Discard, io.Discard)
	cmd, rest, err := root.Find(c.Args)
	if err != nil || cmd == root || len(c.Args) == 0 || cmd.Name() != c.Args[0] {
		t.Errorf("%s: %v is not a sightline command (%v)", where, c.Args, err)
		return stage{}, false
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Errorf("%s: sightline %s does not take %v: %v", where, cmd.Name(), rest, err)
		return stage{}, false
	}
	cfgPath, err := cmd.Flags().GetString("config")
	if err != nil || cfgPath == "" {
		t.Errorf("%s: no --config", where)
		return stage{}, false
	}
	text, ok := mountedFile(t, objs, spec, c, cfgPath, "ConfigMap", where+": --config")
	if !ok {
		return stage{}, false
	}
	p := filepath.Join(t.TempDir(), "sightline.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Errorf("%s: --config %s does not load: %v", where, cfgPath, err)
		return stage{}, false
	}
	return stage{cmd.Name(), cfg}, true
}

// mountedFile is the content of the file the container sees at file,
// which must be a key of a mounted ConfigMap or Secret (of kind, if not
// empty); ok is false (with the reason reported) otherwise.
func mountedFile(t *testing.T, objs []*object, spec *corev1.PodSpec, c *corev1.Container, file, kind, where string) (string, bool) {
	t.Helper()
	k, name, key, ok := mounted(spec, c, file)
	switch {
	case !ok:
		t.Errorf("%s %s is not a file of a mounted ConfigMap or Secret", where, file)
		return "", false
	case kind != "" && k != kind:
		t.Errorf("%s %s is a file of %s %s, want a %s", where, file, k, name, kind)
		return "", false
	}
	text, ok := keysOf(objs, k, name)[key]
	if !ok {
		t.Errorf("%s %s: %s %s has no key %s", where, file, k, name, key)
	}
	return text, ok
}

// checkPasswordEnv: a password_env of the config is set in the container
// from a Secret.
func checkPasswordEnv(t *testing.T, c *corev1.Container, where, key, env string) {
	t.Helper()
	if _, _, ok := secretEnv(c, env); env != "" && !ok {
		t.Errorf("%s: %s names %s, which the container does not get from a Secret", where, key, env)
	}
}

// listenPort is the port of a listening address that the kubelet and
// other pods can reach (not loopback).
func listenPort(t *testing.T, where, key, addr string) int32 {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("%s: %s %q: %v", where, key, addr, err)
		return 0
	}
	if host == "localhost" || net.ParseIP(host).IsLoopback() {
		t.Errorf("%s: %s %s is loopback: the kubelet's probes and the Service cannot reach it", where, key, addr)
	}
	n, _ := strconv.ParseInt(port, 10, 32)
	return int32(n)
}

// checkHTTPProbe: the probe is an HTTP GET of path on port.
func checkHTTPProbe(t *testing.T, c *corev1.Container, where, name string, p *corev1.Probe, path string, port int32) {
	t.Helper()
	switch {
	case p == nil || p.HTTPGet == nil:
		t.Errorf("%s: no HTTP %s probe", where, name)
	case p.HTTPGet.Path != path:
		t.Errorf("%s: %s probe on %s, want %s", where, name, p.HTTPGet.Path, path)
	case portNumber(c, p.HTTPGet.Port) != port:
		t.Errorf("%s: %s probe port %s is %d, the process listens on %d", where, name, p.HTTPGet.Port.String(), portNumber(c, p.HTTPGet.Port), port)
	}
}

// The sightline containers: their arguments are a command and flags the
// CLI has, their config file is the ConfigMap's and loads with
// internal/config, the ports, probes and Prometheus annotation follow
// from http_addr, the passwords come from Secrets and the Kafka CA from a
// mounted Secret.
func TestSightlineContainersMatchTheCLIAndConfig(t *testing.T) {
	objs := load(t)
	docker := readDockerfile(t)
	seen := map[string]bool{}
	for _, o := range objs {
		tpl := pod(o)
		if tpl == nil {
			continue
		}
		for _, c := range containers(&tpl.Spec) {
			where := o.String() + " container " + c.Name
			if len(c.Command) != 1 || path.Base(c.Command[0]) != "sightline" {
				continue
			}
			if c.Command[0] != docker.entrypoint {
				t.Errorf("%s: runs %s, the image has %s", where, c.Command[0], docker.entrypoint)
			}
			st, ok := sightlineStage(t, objs, &tpl.Spec, &c, where)
			if !ok {
				continue
			}
			seen[st.cmd] = true
			cfg := st.cfg
			if len(cfg.ClickHouse.Addrs) == 0 {
				t.Errorf("%s: clickhouse.addr is empty: the process would start a local server", where)
			}
			checkPasswordEnv(t, &c, where, "clickhouse.password_env", cfg.ClickHouse.PasswordEnv)
			if st.cmd == "score" || st.cmd == "aggregate" { // the Kafka clients
				if len(cfg.Kafka.Brokers) == 0 {
					t.Errorf("%s: kafka.brokers is empty: the process would start an embedded broker", where)
				}
				checkPasswordEnv(t, &c, where, "kafka.sasl.password_env", cfg.Kafka.SASL.PasswordEnv)
				if cfg.Kafka.TLS.Enabled && cfg.Kafka.TLS.CAFile != "" {
					mountedFile(t, objs, &tpl.Spec, &c, cfg.Kafka.TLS.CAFile, "", where+": kafka.tls.ca_file")
				}
			}
			if st.cmd == "migrate" {
				continue
			}
			port := listenPort(t, where, "http_addr", cfg.HTTPAddr)
			if http := namedPort(&c, "http"); http != port {
				t.Errorf("%s: container port http is %d, http_addr listens on %d", where, http, port)
			}
			checkHTTPProbe(t, &c, where, "readiness", c.ReadinessProbe, "/readyz", port)
			checkHTTPProbe(t, &c, where, "liveness", c.LivenessProbe, "/healthz", port)
			checkPrometheusPort(t, tpl, where, port)
		}
	}
	for _, want := range []string{"score", "aggregate", "console", "migrate"} {
		if !seen[want] {
			t.Errorf("no container runs sightline %s", want)
		}
	}
}

// checkPrometheusPort: the pod's prometheus.io/port annotation, if any,
// is the port its metrics are served on.
func checkPrometheusPort(t *testing.T, tpl *corev1.PodTemplateSpec, where string, port int32) {
	t.Helper()
	if a, ok := tpl.Annotations["prometheus.io/port"]; ok && a != strconv.Itoa(int(port)) {
		t.Errorf("%s: annotation prometheus.io/port %s, metrics are served on %d", where, a, port)
	}
}

// The sightline-collector containers: --config is a mounted ConfigMap key
// that sightline-collector's own config loading and validation accept
// (components, keys, pipelines); the OTLP and metrics container ports and
// the probes are the ports it listens on; it produces to the topic the
// score stage consumes, on the brokers sightline.yaml names, with its
// password from a Secret and its CA from a mounted Secret.
func TestCollectorMatchesItsConfig(t *testing.T) {
	objs := load(t)
	sightlineBrokers := ""
	if cm, ok := find[*corev1.ConfigMap](objs, "sightline-config"); ok {
		p := filepath.Join(t.TempDir(), "sightline.yaml")
		if err := os.WriteFile(p, []byte(cm.Data["sightline.yaml"]), 0o600); err != nil {
			t.Fatal(err)
		}
		if cfg, err := config.Load(p); err == nil {
			sightlineBrokers = strings.Join(cfg.Kafka.Brokers, ",")
		}
	}
	n := 0
	for _, o := range objs {
		tpl := pod(o)
		if tpl == nil {
			continue
		}
		for _, c := range containers(&tpl.Spec) {
			where := o.String() + " container " + c.Name
			if len(c.Command) != 1 || path.Base(c.Command[0]) != "sightline-collector" {
				continue
			}
			n++
			cmd := distribution.NewCommand()
			if err := cmd.ParseFlags(c.Args); err != nil || len(cmd.Flags().Args()) > 0 {
				t.Errorf("%s: sightline-collector does not take %v: %v", where, c.Args, err)
				continue
			}
			uris := strings.Trim(cmd.Flags().Lookup("config").Value.String(), "[]")
			cfgPath, _ := strings.CutPrefix(uris, "file:")
			if cfgPath == "" || strings.Contains(cfgPath, ", ") {
				t.Errorf("%s: want one --config, got %s", where, uris)
				continue
			}
			text, ok := mountedFile(t, objs, &tpl.Spec, &c, cfgPath, "ConfigMap", where+": --config")
			if !ok {
				continue
			}
			cfg := loadCollectorConfig(t, text, where)
			if cfg == nil {
				continue
			}
			listens := map[int32]bool{}
			for id, rc := range cfg.Receivers {
				r, ok := rc.(*otlpreceiver.Config)
				if !ok {
					continue
				}
				for name, ep := range map[string]string{
					"otlp-grpc": r.Protocols.GRPC.Get().NetAddr.Endpoint,
					"otlp-http": r.Protocols.HTTP.Get().ServerConfig.NetAddr.Endpoint,
				} {
					port := listenPort(t, where, "receivers::"+id.String()+" endpoint", ep)
					listens[port] = true
					if got := namedPort(&c, name); got != port {
						t.Errorf("%s: container port %s is %d, receiver %s listens on %d", where, name, got, id, port)
					}
				}
			}
			var metrics int32
			if tc, ok := cfg.Service.Telemetry.(*otelconftelemetry.Config); ok {
				for _, r := range tc.Metrics.Readers {
					if r.Pull != nil && r.Pull.Exporter.Prometheus != nil && r.Pull.Exporter.Prometheus.Port != nil {
						host := ""
						if r.Pull.Exporter.Prometheus.Host != nil {
							host = *r.Pull.Exporter.Prometheus.Host
						}
						metrics = listenPort(t, where, "service::telemetry::metrics prometheus", net.JoinHostPort(host, strconv.Itoa(*r.Pull.Exporter.Prometheus.Port)))
					}
				}
			}
			if metrics == 0 {
				t.Errorf("%s: the config serves no Prometheus metrics", where)
			} else {
				listens[metrics] = true
				if got := namedPort(&c, "metrics"); got != metrics {
					t.Errorf("%s: container port metrics is %d, the collector serves its metrics on %d", where, got, metrics)
				}
				checkHTTPProbe(t, &c, where, "liveness", c.LivenessProbe, "/metrics", metrics)
				checkPrometheusPort(t, tpl, where, metrics)
			}
			// The collector has no readiness endpoint: ready when a port it
			// listens on accepts connections.
			if p := c.ReadinessProbe; p == nil || probePort(&c, p) == 0 || !listens[probePort(&c, p)] {
				t.Errorf("%s: the readiness probe is on none of the ports the collector listens on", where)
			}
			exporters := 0
			for id, ec := range cfg.Exporters {
				e, ok := ec.(*sightlineexporter.Config)
				if !ok {
					continue
				}
				exporters++
				ew := where + ": exporters::" + id.String()
				if e.Topic != schemas.TopicEvents {
					t.Errorf("%s: topic %s, the score stage consumes %s", ew, e.Topic, schemas.TopicEvents)
				}
				if b := strings.Join(e.Brokers, ","); sightlineBrokers != "" && b != sightlineBrokers {
					t.Errorf("%s: brokers %s, sightline.yaml's kafka.brokers are %s", ew, b, sightlineBrokers)
				}
				checkPasswordEnv(t, &c, ew, "sasl::password_env", e.SASL.PasswordEnv)
				if e.TLS.Enabled && e.TLS.CAFile != "" {
					mountedFile(t, objs, &tpl.Spec, &c, e.TLS.CAFile, "", ew+" tls::ca_file")
				}
			}
			if exporters == 0 {
				t.Errorf("%s: no sightline exporter", where)
			}
		}
	}
	if n == 0 {
		t.Error("no container runs sightline-collector")
	}
}

// loadCollectorConfig loads a collector config as sightline-collector
// --config does, and validates it as sightline-collector validate does.
func loadCollectorConfig(t *testing.T, text, where string) *otelcol.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "collector.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	set := distribution.Settings("file:" + p)
	col, err := otelcol.NewCollector(set)
	if err == nil {
		err = col.DryRun(context.Background())
	}
	if err != nil {
		t.Errorf("%s: the collector config does not validate: %v", where, err)
		return nil
	}
	provider, err := otelcol.NewConfigProvider(set.ConfigProviderSettings)
	if err != nil {
		t.Fatal(err)
	}
	factories, err := distribution.Components()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := provider.Get(context.Background(), factories)
	if err == nil {
		err = confmap.Validate(cfg)
	}
	if err != nil {
		t.Errorf("%s: the collector config does not load: %v", where, err)
		return nil
	}
	return cfg
}

// probePort is the port number a probe connects to, 0 if none.
func probePort(c *corev1.Container, p *corev1.Probe) int32 {
	switch {
	case p.HTTPGet != nil:
		return portNumber(c, p.HTTPGet.Port)
	case p.TCPSocket != nil:
		return portNumber(c, p.TCPSocket.Port)
	case p.GRPC != nil:
		return p.GRPC.Port
	}
	return 0
}

// Every container of every Deployment has a readiness probe on one of its
// declared ports (which port and path for which binary is checked above):
// a rollout or a Service must not count a pod before it serves.
func TestDeploymentsHaveReadinessProbes(t *testing.T) {
	objs := load(t)
	for o, d := range each[*appsv1.Deployment](objs) {
		for _, c := range d.Spec.Template.Spec.Containers {
			where := o.String() + " container " + c.Name
			if c.ReadinessProbe == nil {
				t.Errorf("%s: no readiness probe", where)
				continue
			}
			port := probePort(&c, c.ReadinessProbe)
			if port == 0 || !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == port }) {
				t.Errorf("%s: the readiness probe's port is not one of the container's ports", where)
			}
		}
	}
}

// Every container requests CPU and memory (the scheduler places pods by
// requests, the HPA's utilization is of the CPU request) and has a
// memory limit no lower than its request; a resourceFieldRef
// (GOMEMLIMIT) names a limit that is set.
func TestContainersHaveResources(t *testing.T) {
	objs := load(t)
	for _, o := range objs {
		tpl := pod(o)
		if tpl == nil {
			continue
		}
		for _, c := range containers(&tpl.Spec) {
			where := o.String() + " container " + c.Name
			req, lim := c.Resources.Requests, c.Resources.Limits
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if q, ok := req[r]; !ok || q.IsZero() {
					t.Errorf("%s: no %s request", where, r)
				}
			}
			mem, ok := lim[corev1.ResourceMemory]
			if !ok {
				t.Errorf("%s: no memory limit", where)
			} else if r := req[corev1.ResourceMemory]; mem.Cmp(r) < 0 {
				t.Errorf("%s: memory limit %s below its request %s", where, mem.String(), r.String())
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil || e.ValueFrom.ResourceFieldRef == nil {
					continue
				}
				res := e.ValueFrom.ResourceFieldRef.Resource
				name, isLimit := strings.CutPrefix(res, "limits.")
				if _, set := lim[corev1.ResourceName(name)]; isLimit && !set {
					t.Errorf("%s: env %s is %s, which is not set (it would be the node's allocatable)", where, e.Name, res)
				}
			}
			for name, l := range lim {
				if r, ok := req[name]; ok && l.Cmp(r) < 0 {
					t.Errorf("%s: %s limit %s below its request %s", where, name, l.String(), r.String())
				}
			}
		}
	}
}

// The namespace enforces the restricted Pod Security Standard: every pod
// meets its rules, or the API server would refuse it (the rules on the
// fields these pods can set: a subset of the Pod Security admission's
// checks, which are the authority).
func TestPodsMeetTheNamespacePodSecurityLevel(t *testing.T) {
	objs := load(t)
	ns, ok := find[*corev1.Namespace](objs, namespace)
	if !ok {
		t.Fatalf("no Namespace %s", namespace)
	}
	if level := ns.Labels["pod-security.kubernetes.io/enforce"]; level != "restricted" {
		t.Fatalf("Namespace %s enforces %q: this test checks the restricted level", namespace, level)
	}
	allowedVolumes := func(v corev1.Volume) bool {
		s := v.VolumeSource
		return s.ConfigMap != nil || s.Secret != nil || s.EmptyDir != nil || s.Projected != nil ||
			s.DownwardAPI != nil || s.CSI != nil || s.Ephemeral != nil || s.PersistentVolumeClaim != nil
	}
	for _, o := range objs {
		tpl := pod(o)
		if tpl == nil {
			continue
		}
		spec := &tpl.Spec
		if spec.HostNetwork || spec.HostPID || spec.HostIPC {
			t.Errorf("%s: host namespaces", o)
		}
		for _, v := range spec.Volumes {
			if !allowedVolumes(v) {
				t.Errorf("%s: volume %s is of a type the restricted level refuses", o, v.Name)
			}
		}
		psc := spec.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		for _, c := range containers(spec) {
			where := o.String() + " container " + c.Name
			sc := c.SecurityContext
			if sc == nil {
				sc = &corev1.SecurityContext{}
			}
			nonRoot := sc.RunAsNonRoot
			if nonRoot == nil {
				nonRoot = psc.RunAsNonRoot
			}
			if nonRoot == nil || !*nonRoot {
				t.Errorf("%s: runAsNonRoot is not true", where)
			}
			if u := cmpPtr(sc.RunAsUser, psc.RunAsUser); u != nil && *u == 0 {
				t.Errorf("%s: runAsUser 0", where)
			}
			seccomp := sc.SeccompProfile
			if seccomp == nil {
				seccomp = psc.SeccompProfile
			}
			if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
				t.Errorf("%s: seccompProfile is not RuntimeDefault or Localhost", where)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation is not false", where)
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s: privileged", where)
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("%s: capabilities do not drop ALL", where)
			} else if slices.ContainsFunc(sc.Capabilities.Add, func(c corev1.Capability) bool { return c != "NET_BIND_SERVICE" }) {
				t.Errorf("%s: adds capabilities %v", where, sc.Capabilities.Add)
			}
		}
	}
}

func cmpPtr[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

// kedaKafkaKeys are the trigger metadata keys KEDA's kafka scaler reads
// (pkg/scalers/kafka_scaler.go, kafkaMetadata); any other key would be
// ignored without a word.
var kedaKafkaKeys = []string{
	"bootstrapServers", "consumerGroup", "topic", "partitionLimitation", "lagThreshold",
	"activationLagThreshold", "offsetResetPolicy", "allowIdleConsumers", "excludePersistentLag",
	"scaleToZeroOnInvalidOffset", "limitToPartitionsWithLag", "ensureEvenDistributionOfPartitions",
	"version", "sasl", "saslTokenProvider", "awsRegion", "tls", "unsafeSsl",
}

// kedaSASL is KEDA's spelling of each kafka.sasl.mechanism.
var kedaSASL = map[string]string{"": "none", "PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}

// Every ScaledObject scales a score or aggregate Deployment on the lag of
// the consumer group and topic that stage consumes, on its brokers, with
// its Kafka user, password, TLS and CA: what KEDA measures is the lag the
// pods work off.
func TestScaledObjectsMeasureTheStagesLag(t *testing.T) {
	objs := load(t)
	n := 0
	for o, so := range each[*scaledObject](objs) {
		spec := &so.Spec
		if spec.MinReplicaCount != nil && spec.MaxReplicaCount != nil && *spec.MinReplicaCount > *spec.MaxReplicaCount {
			t.Errorf("%s: minReplicaCount %d above maxReplicaCount %d", o, *spec.MinReplicaCount, *spec.MaxReplicaCount)
		}
		d, ok := find[*appsv1.Deployment](objs, spec.ScaleTargetRef.Name)
		if !ok {
			continue // TestReferencesResolve reports it
		}
		var st stage
		var c *corev1.Container
		for i := range d.Spec.Template.Spec.Containers {
			cc := &d.Spec.Template.Spec.Containers[i]
			if len(cc.Command) == 1 && path.Base(cc.Command[0]) == "sightline" {
				c = cc
				st, ok = sightlineStage(t, objs, &d.Spec.Template.Spec, cc, o.String()+" target "+d.Name)
			}
		}
		if c == nil || !ok {
			t.Errorf("%s: Deployment %s runs no sightline stage whose config loads", o, d.Name)
			continue
		}
		var group, topic string
		switch st.cmd {
		case "score":
			group, topic = st.cfg.Score.Group, schemas.TopicEvents
		case "aggregate":
			group, topic = st.cfg.Aggregate.Group, schemas.TopicPartials
		default:
			t.Errorf("%s: scales sightline %s, which consumes no topic", o, st.cmd)
			continue
		}
		if len(spec.Triggers) == 0 {
			t.Errorf("%s: no triggers", o)
		}
		for i, tr := range spec.Triggers {
			n++
			where := o.String() + " trigger " + strconv.Itoa(i)
			if tr.Type != "kafka" {
				t.Errorf("%s: type %s, want kafka", where, tr.Type)
				continue
			}
			for k := range tr.Metadata {
				if !slices.Contains(kedaKafkaKeys, k) {
					t.Errorf("%s: metadata key %s is not one KEDA's kafka scaler reads", where, k)
				}
			}
			m := tr.Metadata
			if m["consumerGroup"] != group {
				t.Errorf("%s: consumerGroup %q, sightline %s's group is %q", where, m["consumerGroup"], st.cmd, group)
			}
			if m["topic"] != topic {
				t.Errorf("%s: topic %q, sightline %s consumes %q", where, m["topic"], st.cmd, topic)
			}
			if b := strings.Join(st.cfg.Kafka.Brokers, ","); m["bootstrapServers"] != b {
				t.Errorf("%s: bootstrapServers %q, kafka.brokers are %q", where, m["bootstrapServers"], b)
			}
			if lag, err := strconv.ParseInt(m["lagThreshold"], 10, 64); err != nil || lag <= 0 {
				t.Errorf("%s: lagThreshold %q is not a positive integer", where, m["lagThreshold"])
			}
			if p := m["offsetResetPolicy"]; p != "" && p != "earliest" && p != "latest" {
				t.Errorf("%s: offsetResetPolicy %q", where, p)
			}
			checkKEDAAuth(t, objs, where, tr, d, c, st.cfg)
		}
	}
	if n == 0 {
		t.Error("no ScaledObject triggers found")
	}
}

// checkKEDAAuth: the trigger's TriggerAuthentication gives KEDA the
// stage's SASL mechanism, user and password (the same Secret key as the
// container's), its TLS and its CA (the Secret key mounted at
// kafka.tls.ca_file).
func checkKEDAAuth(t *testing.T, objs []*object, where string, tr scaleTrigger, d *appsv1.Deployment, c *corev1.Container, cfg config.Config) {
	t.Helper()
	params := map[string][2]string{} // parameter: Secret name, key
	if tr.AuthenticationRef != nil {
		if ta, ok := find[*triggerAuthentication](objs, tr.AuthenticationRef.Name); ok {
			for _, s := range ta.Spec.SecretTargetRef {
				params[s.Parameter] = [2]string{s.Name, s.Key}
			}
		}
	}
	value := func(param string) string {
		if p, ok := params[param]; ok {
			return keysOf(objs, "Secret", p[0])[p[1]]
		}
		return ""
	}
	sasl := orDefault(value("sasl"), orDefault(tr.Metadata["sasl"], "none"))
	if want := kedaSASL[strings.ToUpper(cfg.Kafka.SASL.Mechanism)]; sasl != want {
		t.Errorf("%s: KEDA's sasl is %q, kafka.sasl.mechanism %q is %q", where, sasl, cfg.Kafka.SASL.Mechanism, want)
	}
	if cfg.Kafka.SASL.Mechanism != "" {
		if u := value("username"); u != cfg.Kafka.SASL.Username {
			t.Errorf("%s: KEDA's username is %q, kafka.sasl.username is %q", where, u, cfg.Kafka.SASL.Username)
		}
		name, key, _ := secretEnv(c, cfg.Kafka.SASL.PasswordEnv)
		if params["password"] != [2]string{name, key} {
			t.Errorf("%s: KEDA's password is Secret %v, the stage's (%s) is %s %s", where, params["password"], cfg.Kafka.SASL.PasswordEnv, name, key)
		}
	}
	tls := orDefault(value("tls"), orDefault(tr.Metadata["tls"], "disable"))
	if (tls == "enable") != cfg.Kafka.TLS.Enabled {
		t.Errorf("%s: KEDA's tls is %q, kafka.tls.enabled is %v", where, tls, cfg.Kafka.TLS.Enabled)
	}
	if cfg.Kafka.TLS.Enabled && cfg.Kafka.TLS.CAFile != "" {
		// (A ca_file mounted from nothing is reported with the container.)
		kind, name, key, ok := mounted(&d.Spec.Template.Spec, c, cfg.Kafka.TLS.CAFile)
		if ok && (kind != "Secret" || params["ca"] != [2]string{name, key}) {
			t.Errorf("%s: KEDA's ca is Secret %v, the stage's kafka.tls.ca_file is %s %s %s", where, params["ca"], kind, name, key)
		}
	}
}
