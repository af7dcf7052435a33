package lab

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckSDKVersion(t *testing.T) {
	tests := []struct {
		version string
		ok      bool
	}{
		{"1.118.1", true},
		{"1.56.0", true},
		{"2.0.0-rc.1", true},
		{"", false},
		{"latest", false},
		{"^1.56.0", false},
		{"~1.56", false},
		{"1.x", false},
		{"1.56", false},
		{">=1.0.0", false},
		{"1.56.0 || 1.65.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			err := CheckSDKVersion(tt.version)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrSDKVersion)) {
				t.Errorf("CheckSDKVersion(%q) = %v, want ok %t (else ErrSDKVersion)", tt.version, err, tt.ok)
			}
		})
	}
}

func TestVersionBefore(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"1.56.0", "1.87.0", true},
		{"1.86.9", "1.87.0", true},
		{"1.87.0", "1.87.0", false},
		{"1.118.1", "1.87.0", false}, // numeric, not lexical
		{"1.9.0", "1.87.0", true},
		{"2.0.0", "1.87.0", false},
	}
	for _, tt := range tests {
		if got := versionBefore(tt.a, tt.b); got != tt.want {
			t.Errorf("versionBefore(%q, %q) = %t, want %t", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestRunSpecNameWithSDKVersion(t *testing.T) {
	tests := []struct {
		spec        RunSpec
		name, label string
	}{
		{RunSpec{Client: ClientNode, Preset: PresetLaptop, Scenario: ScenarioHealthy},
			"node-sdk-laptop-healthy", "node-sdk/laptop/healthy"},
		{RunSpec{Client: ClientNode, SDKVersion: "1.56.0", Preset: PresetLambda, Scenario: ScenarioBlackhole},
			"node-sdk-1_56_0-lambda-blackhole", "node-sdk@1.56.0/lambda/blackhole"},
	}
	for _, tt := range tests {
		if got := tt.spec.Name(); got != tt.name {
			t.Errorf("%+v.Name() = %q, want %q", tt.spec, got, tt.name)
		}
		if got := tt.spec.Label(); got != tt.label {
			t.Errorf("%+v.Label() = %q, want %q", tt.spec, got, tt.label)
		}
	}
}

// TestEnsureNodeSDKReuses: a version already in the cache is used as it is,
// without npm (PATH is empty here, so running npm would fail).
func TestEnsureNodeSDKReuses(t *testing.T) {
	cache := t.TempDir()
	want := filepath.Join(cache, "node-sdk", "1.56.0")
	pkg := filepath.Join(want, "node_modules", "@gomomento", "sdk")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "package.json"), []byte(`{"name": "@gomomento/sdk", "version": "1.56.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", "")
	got, err := EnsureNodeSDK(t.Context(), cache, "1.56.0")
	if err != nil || got != want {
		t.Errorf("EnsureNodeSDK(1.56.0) = %q, %v, want %q, nil", got, err, want)
	}
	if _, err := EnsureNodeSDK(t.Context(), cache, "^1.56.0"); !errors.Is(err, ErrSDKVersion) {
		t.Errorf("EnsureNodeSDK(^1.56.0) = %v, want ErrSDKVersion", err)
	}
}

// TestRunRefusesPlaintextForOldSDK: releases before 1.87.0 cannot connect
// without TLS, so Run refuses them before preparing anything.
func TestRunRefusesPlaintextForOldSDK(t *testing.T) {
	root, err := FindRoot()
	if err != nil {
		t.Fatalf("FindRoot: %v", err)
	}
	runs := []RunSpec{{Client: ClientNode, SDKVersion: "1.56.0", Preset: PresetLaptop, Scenario: ScenarioHealthy}}
	if _, err := Run(t.Context(), Options{Root: root, Runs: runs}); !errors.Is(err, ErrTLSOnly) {
		t.Errorf("Run(1.56.0 without TLS) = %v, want ErrTLSOnly", err)
	}
	runs[0].Client = ClientGo
	if _, err := Run(t.Context(), Options{Root: root, Runs: runs}); !errors.Is(err, ErrUnknownRun) {
		t.Errorf("Run(go-sdk with an SDK version) = %v, want ErrUnknownRun", err)
	}
}
