// Strictly decodes component config files into the official Go types of Kubernetes v0.34 (the staging
// modules k8s.io/kubelet, kube-proxy, kube-scheduler, apiserver), case-sensitively, the way the components
// decode them: an unknown or misspelt field, a wrong type or a bad duration is an error.
// Usage: validate KIND FILE [KIND FILE...]; exit 1 on any error.
package main

import (
	"fmt"
	"os"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	schedv1 "k8s.io/kube-scheduler/config/v1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

func main() {
	args := os.Args[1:]
	failed := false
	for i := 0; i+1 < len(args); i += 2 {
		kind, file := args[i], args[i+1]
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Printf("%s: %v\n", file, err)
			failed = true
			continue
		}
		var target interface{}
		var wantAPIVersion string
		switch kind {
		case "KubeletConfiguration":
			target, wantAPIVersion = &kubeletv1beta1.KubeletConfiguration{}, kubeletv1beta1.SchemeGroupVersion.String()
		case "KubeProxyConfiguration":
			target, wantAPIVersion = &kubeproxyv1alpha1.KubeProxyConfiguration{}, kubeproxyv1alpha1.SchemeGroupVersion.String()
		case "KubeSchedulerConfiguration":
			target, wantAPIVersion = &schedv1.KubeSchedulerConfiguration{}, schedv1.SchemeGroupVersion.String()
		case "EncryptionConfiguration":
			target, wantAPIVersion = &apiserverv1.EncryptionConfiguration{}, apiserverv1.SchemeGroupVersion.String()
		default:
			fmt.Printf("%s: unknown kind %s\n", file, kind)
			failed = true
			continue
		}
		js, err := yaml.YAMLToJSONStrict(data)
		if err != nil {
			fmt.Printf("%s: %v\n", file, err)
			failed = true
			continue
		}
		strictErrs, err := kjson.UnmarshalStrict(js, target, kjson.DisallowUnknownFields)
		if err == nil && len(strictErrs) > 0 {
			err = fmt.Errorf("%v", strictErrs)
		}
		if err != nil {
			fmt.Printf("%s: %v\n", file, err)
			failed = true
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		_ = yaml.Unmarshal(data, &meta)
		if meta.APIVersion != wantAPIVersion || meta.Kind != kind {
			fmt.Printf("%s: apiVersion/kind %s/%s, want %s/%s\n", file, meta.APIVersion, meta.Kind, wantAPIVersion, kind)
			failed = true
			continue
		}
		fmt.Printf("%s: ok %s\n", file, kind)
	}
	if failed {
		os.Exit(1)
	}
}
