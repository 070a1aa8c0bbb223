using System;
using System.Collections.Generic;
using System.Linq;
using Docker.DotNet.Models;
using YieldVault.Ops;
using YieldVault.Ops.Runbook;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Core.Tests;

public class DockerDeploymentTests
{
    private static readonly VaultTarget Target = new()
    {
        Name = "prod-1", ServiceManager = ServiceManagerKind.Docker, ServiceName = "yieldvault-backend", Port = 3000,
        AppPath = "/app/yieldvault-backend", LogPath = "/var/log/yieldvault/backend.log",
    };

    private static Dictionary<string, string> Env(params string[] pairs) =>
        pairs.Select(p => p.Split(new[] { '=' }, 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

    private static ImageInspectResponse OldImage() => new()
    {
        ID = "sha256:0ld",
        Config = new Config
        {
            Cmd = new List<string> { "/usr/bin/node", "dist/index.js" },
            WorkingDir = "/app",
            Env = new List<string> { "PATH=/usr/bin", "APP_COMMIT=1111111111111111111111111111111111111111" },
            Labels = new Dictionary<string, string> { ["org.opencontainers.image.version"] = "1.2.3", ["maintainer"] = "ci" },
            ExposedPorts = new Dictionary<string, EmptyStruct> { ["3000/tcp"] = default },
        },
    };

    private static ContainerInspectResponse Current(string networkMode = "host", Dictionary<string, IList<PortBinding>>? bindings = null, IList<string>? cmd = null) => new()
    {
        ID = "c0ffee0123456789c0ffee0123456789c0ffee0123456789c0ffee0123456789",
        Name = "/yieldvault-backend",
        Image = "sha256:0ld",
        Config = new Config
        {
            Image = "ghcr.io/yieldvault/backend:v1.2.3",
            Cmd = cmd ?? new List<string> { "/usr/bin/node", "dist/index.js" },
            WorkingDir = "/app",
            Env = new List<string> { "PATH=/usr/bin", "APP_COMMIT=1111111111111111111111111111111111111111", "REMOVED_FROM_ENV_FILE=old" },
            Labels = new Dictionary<string, string>
            {
                ["org.opencontainers.image.version"] = "1.2.3", ["maintainer"] = "ci", ["team"] = "payments",
                ["yieldvault-ops.release"] = "ghcr.io/yieldvault/backend:v1.2.3",
            },
            StopTimeout = TimeSpan.FromSeconds(10),
        },
        HostConfig = new HostConfig
        {
            NetworkMode = networkMode,
            PortBindings = bindings,
            RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            Binds = new List<string> { "/srv/data:/data:ro" },
            Memory = 512L * 1024 * 1024,
            AutoRemove = true,
            Links = new List<string> { "/redis:/yieldvault-backend/cache" },
        },
    };

    [Theory]
    [InlineData("ghcr.io/yieldvault/backend:v1.3.0", "ghcr.io/yieldvault/backend", "v1.3.0")]
    [InlineData("yieldvault-backend", "yieldvault-backend", "latest")]
    [InlineData("localhost:5000/yieldvault/backend", "localhost:5000/yieldvault/backend", "latest")]
    [InlineData("localhost:5000/yieldvault/backend:1.3.0", "localhost:5000/yieldvault/backend", "1.3.0")]
    [InlineData("ghcr.io/y/b@sha256:abcd", "ghcr.io/y/b", "sha256:abcd")]
    [InlineData("ghcr.io/y/b:v1@sha256:abcd", "ghcr.io/y/b", "sha256:abcd")]
    public void Split_separates_repository_and_tag_or_digest(string image, string repository, string reference)
    {
        Assert.Equal((repository, reference), DockerImages.Split(image));
    }

    [Theory]
    [InlineData("ghcr.io/yieldvault/backend:v1.3.0", "1.3.0")]
    [InlineData("backend:1.3.0", "1.3.0")]
    [InlineData("backend:v1.3.1-rc.1", "1.3.1-rc.1")]
    [InlineData("backend:latest", null)]
    [InlineData("backend", null)]
    [InlineData("backend:sha-1a2b3c4", null)]
    [InlineData("backend@sha256:abcd", null)]
    public void VersionOf_uses_a_version_like_tag_without_its_v_when_there_is_no_label(string image, string? expected)
    {
        Assert.Equal(expected, DockerImages.VersionOf(null, image));
    }

    [Fact]
    public void VersionOf_prefers_the_OCI_version_label()
    {
        var labels = new Dictionary<string, string> { [DockerImages.VersionLabel] = "1.3.0" };
        Assert.Equal("1.3.0", DockerImages.VersionOf(labels, "backend:latest"));
        Assert.Equal("1.3.0", DockerImages.VersionOf(labels, "backend:v9.9.9"));
    }

    [Theory]
    [InlineData("0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567")]
    [InlineData("0123456789ABCDEF0123456789ABCDEF01234567", "0123456789abcdef0123456789abcdef01234567")]
    [InlineData("0123456", null)]
    [InlineData("main", null)]
    [InlineData("", null)]
    public void CommitOf_takes_only_full_commit_ids(string revision, string? expected)
    {
        Assert.Equal(expected, DockerImages.CommitOf(new Dictionary<string, string> { [DockerImages.RevisionLabel] = revision }));
    }

    [Fact]
    public void Names_of_the_service_containers()
    {
        var names = new DockerContainerNames("yieldvault-backend");
        Assert.Equal("yieldvault-backend-previous", names.Previous);
        Assert.Equal("yieldvault-backend-next-0a1b2c3d", names.Next("0a1b2c3d"));
        Assert.True(names.IsLeftover("/yieldvault-backend-failed-0a1b2c3d"));
        Assert.True(names.IsLeftover("yieldvault-backend-retired-0a1b2c3d"));
        Assert.True(names.IsLeftover("yieldvault-backend-next-0a1b2c3d"));
        Assert.False(names.IsLeftover("yieldvault-backend"));
        Assert.False(names.IsLeftover("yieldvault-backend-previous"));
        Assert.False(names.IsLeftover("yieldvault-backend-failed-mine"));
        Assert.False(names.IsLeftover("other-failed-0a1b2c3d"));
        Assert.Matches("^[0-9a-f]{8}$", DockerContainerNames.NewId());
        Assert.False(DockerContainerNames.IsValidContainerName("yieldvault-backend@1"));
        Assert.True(DockerContainerNames.IsValidContainerName("yieldvault-backend_1.2"));
    }

    [Fact]
    public void Build_copies_the_current_container_with_the_runbook_settings_on_top()
    {
        var env = Env("PORT=3000", "DATABASE_URL=postgres://u:secret@db/yv", "NODE_ENV=production");
        var plan = DockerContainerSpec.Build(Target, "yieldvault-backend-next-0a1b2c3d", "ghcr.io/yieldvault/backend:v1.3.0", env, Current(), OldImage());
        var create = plan.Create;

        Assert.Equal("yieldvault-backend-next-0a1b2c3d", create.Name);
        Assert.Equal("ghcr.io/yieldvault/backend:v1.3.0", create.Image);
        Assert.Equal(RestartPolicyKind.UnlessStopped, create.HostConfig.RestartPolicy.Name);
        Assert.False(create.HostConfig.AutoRemove);
        Assert.Equal("host", create.HostConfig.NetworkMode);
        Assert.Equal("host network, port 3000", plan.Networking);
        Assert.Equal(512L * 1024 * 1024, create.HostConfig.Memory);
        Assert.Equal(new[] { "/srv/data:/data:ro", "/var/log/yieldvault:/var/log/yieldvault" }, create.HostConfig.Binds);
        Assert.Equal(new[] { "redis:cache" }, create.HostConfig.Links);
        Assert.Equal(TimeSpan.FromSeconds(10), create.StopTimeout);

        // The environment is the env file's alone: not the old image's, not what the env file no longer has.
        Assert.Equal(new[] { "PORT=3000", "DATABASE_URL=postgres://u:secret@db/yv", "NODE_ENV=production" }, create.Env);

        // The new image's own command, working directory and labels apply; the operator's labels carry over.
        Assert.Null(create.Cmd);
        Assert.Null(create.WorkingDir);
        Assert.Equal("payments", create.Labels["team"]);
        Assert.False(create.Labels.ContainsKey("maintainer"));
        Assert.False(create.Labels.ContainsKey("org.opencontainers.image.version"));
        Assert.Equal("yieldvault-backend", create.Labels[DockerContainerNames.ServiceLabel]);
        Assert.Equal("ghcr.io/yieldvault/backend:v1.3.0", create.Labels[DockerContainerNames.ReleaseLabel]);
        Assert.Empty(plan.Warnings);
    }

    [Fact]
    public void Build_keeps_a_command_the_operator_overrode()
    {
        var cmd = new List<string> { "/usr/bin/node", "--max-old-space-size=512", "dist/index.js" };
        var plan = DockerContainerSpec.Build(Target, "n", "img:v1.3.0", Env("PORT=3000"), Current(cmd: cmd), OldImage());
        Assert.Equal(cmd, plan.Create.Cmd);
    }

    [Fact]
    public void Build_does_not_mount_the_log_directory_twice()
    {
        var current = Current();
        current.HostConfig.Binds = new List<string> { "/var/log/yieldvault:/var/log/yieldvault" };
        var plan = DockerContainerSpec.Build(Target, "n", "img:v1.3.0", Env("PORT=3000"), current, OldImage());
        Assert.Equal(new[] { "/var/log/yieldvault:/var/log/yieldvault" }, plan.Create.HostConfig.Binds);
    }

    [Fact]
    public void Build_refuses_host_networking_when_PORT_is_not_the_targets_port()
    {
        var ex = Assert.Throws<VaultException>(() => DockerContainerSpec.Build(Target, "n", "img:v1.3.0", Env("PORT=4000"), Current(), OldImage()));
        Assert.Equal("ContainerPortMismatch", ex.ErrorId);
        Assert.Contains("4000", ex.Message);
        Assert.Contains("Nothing was changed", ex.Message);
    }

    [Fact]
    public void Build_refuses_a_PORT_that_is_not_a_number_without_showing_it()
    {
        var ex = Assert.Throws<VaultException>(() => DockerContainerSpec.Build(Target, "n", "img:v1.3.0", Env("PORT=abc-secretish"), Current(), OldImage()));
        Assert.Equal("ContainerPortMismatch", ex.ErrorId);
        Assert.DoesNotContain("abc-secretish", ex.Message);
    }

    [Fact]
    public void Build_keeps_the_port_binding_that_publishes_the_targets_port()
    {
        var bindings = new Dictionary<string, IList<PortBinding>> { ["3000/tcp"] = new List<PortBinding> { new() { HostIP = "127.0.0.1", HostPort = "3000" } } };
        var plan = DockerContainerSpec.Build(Target, "n", "img:v1.3.0", Env("PORT=3000", "HOST=0.0.0.0"), Current("bridge", bindings), OldImage());
        Assert.Equal("bridge", plan.Create.HostConfig.NetworkMode);
        Assert.Equal("127.0.0.1", plan.Create.HostConfig.PortBindings["3000/tcp"].Single().HostIP);
        Assert.True(plan.Create.ExposedPorts.ContainsKey("3000/tcp"));
        Assert.Equal("127.0.0.1:3000->3000/tcp", plan.Networking);
    }

    [Fact]
    public void Build_refuses_a_container_that_does_not_publish_the_targets_port()
    {
        var bindings = new Dictionary<string, IList<PortBinding>> { ["3000/tcp"] = new List<PortBinding> { new() { HostIP = "127.0.0.1", HostPort = "8080" } } };
        var ex = Assert.Throws<VaultException>(() => DockerContainerSpec.Build(Target, "n", "img", Env("PORT=3000"), Current("bridge", bindings), OldImage()));
        Assert.Equal("ContainerPortMismatch", ex.ErrorId);
        Assert.Contains("127.0.0.1:8080->3000/tcp", ex.Message);
    }

    [Fact]
    public void Build_refuses_a_published_port_that_is_not_where_the_backend_listens()
    {
        var bindings = new Dictionary<string, IList<PortBinding>> { ["3000/tcp"] = new List<PortBinding> { new() { HostIP = "", HostPort = "3000" } } };
        var ex = Assert.Throws<VaultException>(() => DockerContainerSpec.Build(Target, "n", "img", Env("PORT=8000"), Current("bridge", bindings), OldImage()));
        Assert.Equal("ContainerPortMismatch", ex.ErrorId);
    }

    [Fact]
    public void Build_publishes_the_targets_port_like_the_runbook_when_there_is_no_container_yet()
    {
        var plan = DockerContainerSpec.Build(new VaultTarget { Name = "new-1", ServiceManager = ServiceManagerKind.Docker, Port = 8080 }, "n", "img:v1.3.0", Env("PORT=3000", "HOST=127.0.0.1"), null, null);
        var binding = plan.Create.HostConfig.PortBindings["3000/tcp"].Single();
        Assert.Equal("8080", binding.HostPort);
        Assert.Equal(RestartPolicyKind.UnlessStopped, plan.Create.HostConfig.RestartPolicy.Name);
        Assert.Equal(new[] { "/var/log/yieldvault:/var/log/yieldvault" }, plan.Create.HostConfig.Binds);
        Assert.Null(plan.Create.Cmd);
        Assert.Contains(plan.Warnings, w => w.Contains("HOST", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_moves_user_defined_networks_without_the_old_containers_own_aliases()
    {
        var current = Current("yv-net");
        current.NetworkSettings = new NetworkSettings
        {
            Networks = new Dictionary<string, EndpointSettings>
            {
                ["yv-net"] = new() { Aliases = new List<string> { "c0ffee012345", "backend", "yieldvault-backend" }, IPAddress = "172.20.0.5" },
                ["monitoring"] = new() { Aliases = new List<string> { "api" } },
            },
        };
        current.HostConfig.PortBindings = new Dictionary<string, IList<PortBinding>> { ["3000/tcp"] = new List<PortBinding> { new() { HostPort = "3000" } } };
        var plan = DockerContainerSpec.Build(Target, "n", "img", Env("PORT=3000"), current, OldImage());
        var primary = plan.Create.NetworkingConfig.EndpointsConfig["yv-net"];
        Assert.Equal(new[] { "backend" }, primary.Aliases);
        Assert.Null(primary.IPAddress);
        Assert.Equal("monitoring", Assert.Single(plan.ExtraNetworks).Key);
    }

    [Theory]
    [InlineData("/var/log/yieldvault/backend.log", "/var/log/yieldvault")]
    [InlineData("/backend.log", null)]
    [InlineData("/srv/app/logs/", "/srv/app")]
    public void LogDirectory_is_the_log_files_directory(string path, string? expected)
    {
        Assert.Equal(expected, DockerContainerSpec.LogDirectory(path));
    }
}
