using System;
using System.Collections.Generic;
using System.Linq;
using Docker.DotNet.Models;
using YieldVault.Ops;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Core.Tests;

/// <summary>What the module makes of a Swarm service: its state, the spec a deployment submits, and where its health is asked.</summary>
public sealed class SwarmServiceTests
{
    private static readonly DateTime Now = new(2026, 12, 3, 10, 0, 0, DateTimeKind.Utc);

    private static VaultTarget Target(int port = 18080) => new() { Name = "sw", ServiceManager = ServiceManagerKind.Swarm, ServiceName = "yv-api", Port = port, SwarmMonitorSec = 7, SwarmUpdateDelaySec = 2 };

    private static SwarmService Service(ulong replicas = 1, string? update = null) => new()
    {
        ID = "svc0123456789abcdef",
        Version = new Docker.DotNet.Models.Version { Index = 42 },
        Spec = new ServiceSpec
        {
            Name = "yv-api",
            Mode = new ServiceMode { Replicated = new ReplicatedService { Replicas = replicas } },
            TaskTemplate = new TaskSpec { ContainerSpec = new ContainerSpec { Image = "127.0.0.1:5000/app:v1.2.3@sha256:aaaa", Env = new List<string> { "OLD=1" } }, ForceUpdate = 3 },
            EndpointSpec = new EndpointSpec { Ports = new List<PortConfig> { new() { Protocol = "tcp", TargetPort = 3000, PublishedPort = 18080, PublishMode = "host" } } },
        },
        UpdateStatus = update is null ? null : new UpdateStatus { State = update, Message = "update " + update },
    };

    private static TaskResponse Task(string id, TaskState state, TaskState desired, int minutesAgo, string image = "127.0.0.1:5000/app:v1.2.3@sha256:aaaa", string? err = null, long pid = 0, string node = "node1") => new()
    {
        ID = id,
        NodeID = node,
        Slot = 1,
        DesiredState = desired,
        Spec = new TaskSpec { ContainerSpec = new ContainerSpec { Image = image } },
        Status = new TaskStatus { State = state, Timestamp = Now.AddMinutes(-minutesAgo), Err = err ?? "", Message = state.ToString().ToLowerInvariant(), ContainerStatus = new ContainerStatus { PID = pid } },
    };

    [Fact]
    public void A_service_with_its_task_running_is_running_with_replicas_image_and_the_local_pid()
    {
        var state = SwarmServiceState.ToServiceState("yv-api", Service(update: "completed"),
            new List<TaskResponse> { Task("t1", TaskState.Running, TaskState.Running, 3, pid: 4242), Task("t0", TaskState.Shutdown, TaskState.Shutdown, 10) }, "node1", Now);
        Assert.Equal(ServiceStatus.Running, state.Status);
        Assert.Equal(ServiceManagerKind.Swarm, state.Manager);
        Assert.Equal(1, state.ReplicasRunning);
        Assert.Equal(1, state.ReplicasDesired);
        Assert.Equal("completed", state.UpdateState);
        Assert.Equal("127.0.0.1:5000/app:v1.2.3", state.Image);
        Assert.Equal(4242, state.Pid);
        Assert.Equal(new[] { "18080->3000/tcp (host)" }, state.Ports);
        Assert.Equal(2, state.Tasks.Count);
        Assert.Equal("running", state.Tasks[0].State);
        Assert.StartsWith("1/1 running; update completed", state.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void The_pid_of_a_task_on_another_node_is_not_a_process_on_this_host()
    {
        var state = SwarmServiceState.ToServiceState("yv-api", Service(), new List<TaskResponse> { Task("t1", TaskState.Running, TaskState.Running, 3, pid: 4242, node: "node2") }, "node1", Now);
        Assert.Null(state.Pid);
    }

    [Fact]
    public void Tasks_that_keep_failing_with_none_running_are_a_crash_loop_and_their_errors_are_said()
    {
        var state = SwarmServiceState.ToServiceState("yv-api", Service(), new List<TaskResponse>
        {
            Task("t3", TaskState.Starting, TaskState.Running, 0),
            Task("t2", TaskState.Failed, TaskState.Shutdown, 1, err: "task: non-zero exit (1)"),
            Task("t1", TaskState.Failed, TaskState.Shutdown, 2, err: "task: non-zero exit (1)"),
        }, "node1", Now);
        Assert.Equal(ServiceStatus.CrashLooping, state.Status);
        Assert.Equal(2, state.Restarts);
        Assert.Contains("non-zero exit (1)", state.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_service_scaled_to_zero_is_stopped()
    {
        var state = SwarmServiceState.ToServiceState("yv-api", Service(replicas: 0), new List<TaskResponse>(), "node1", Now);
        Assert.Equal(ServiceStatus.Stopped, state.Status);
        Assert.Equal(0, state.ReplicasDesired);
    }

    [Fact]
    public void The_deployment_spec_has_the_pinned_image_the_env_file_alone_and_the_targets_update_settings()
    {
        var spec = SwarmServiceSpec.ForDeployment(Target(), Service().Spec, "127.0.0.1:5000/app:v1.3.0@sha256:bbbb", "127.0.0.1:5000/app:v1.3.0",
            new Dictionary<string, string> { ["PORT"] = "3000", ["API_KEY"] = "k" }, "run-1");
        Assert.Equal("127.0.0.1:5000/app:v1.3.0@sha256:bbbb", spec.TaskTemplate.ContainerSpec.Image);
        Assert.Equal(new[] { "PORT=3000", "API_KEY=k" }, spec.TaskTemplate.ContainerSpec.Env);
        Assert.Equal(4UL, spec.TaskTemplate.ForceUpdate);
        Assert.Equal("stop-first", spec.UpdateConfig.Order);
        Assert.Equal("rollback", spec.UpdateConfig.FailureAction);
        Assert.Equal(1UL, spec.UpdateConfig.Parallelism);
        Assert.Equal(7_000_000_000L, spec.UpdateConfig.Monitor);
        Assert.Equal(2_000_000_000L, spec.UpdateConfig.Delay);
        Assert.Equal("pause", spec.RollbackConfig.FailureAction);
        Assert.Equal("127.0.0.1:5000/app:v1.3.0", spec.Labels[SwarmServiceSpec.ReleaseLabel]);
        Assert.Equal("start-first", SwarmServiceSpec.UpdateConfig(Target() with { SwarmUpdateOrder = SwarmUpdateOrder.StartFirst }, "rollback").Order);
    }

    [Fact]
    public void Health_is_asked_on_a_published_port_or_the_host_network_and_the_app_port_must_agree()
    {
        var spec = Service().Spec;
        Assert.Null(SwarmServiceSpec.PortProblem(Target(), spec, onHostNetwork: false, appPort: 3000));
        Assert.Contains("from its port 3000, but the env file's PORT makes the backend listen on 4000", SwarmServiceSpec.PortProblem(Target(), spec, false, 4000), StringComparison.Ordinal);
        Assert.Contains("publishes 18080->3000/tcp (host), not the target's Port 9999", SwarmServiceSpec.PortProblem(Target(9999), spec, false, 3000), StringComparison.Ordinal);
        Assert.Null(SwarmServiceSpec.PortProblem(Target(9999), spec, onHostNetwork: true, appPort: 9999));
        Assert.Contains("host's network", SwarmServiceSpec.PortProblem(Target(9999), spec, onHostNetwork: true, appPort: 3000), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:5000/app:v1", "127.0.0.1:5000/app:v1@sha256:cc")]
    [InlineData("127.0.0.1:5000/app:v1@sha256:dd", "127.0.0.1:5000/app:v1@sha256:dd")]
    [InlineData("other/app:v1", "other/app:v1")]
    public void Pins_the_image_to_the_digest_of_its_registry(string image, string pinned)
    {
        Assert.Equal(pinned, SwarmImages.Pin(image, new[] { "127.0.0.1:5000/app@sha256:cc", "mirror/app@sha256:ee" }));
        Assert.Equal(image.Split('@')[0], SwarmImages.Display(pinned));
    }

    [Fact]
    public void An_update_is_bounded_by_its_groups_of_tasks()
    {
        Assert.Equal(TimeSpan.FromSeconds(120), SwarmServiceSpec.UpdateBound(Target(), 1, TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromSeconds(4 * (60 + 7 + 2 + 15) + 30), SwarmServiceSpec.UpdateBound(Target(), 4, TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public void A_swarm_target_refuses_blue_green_and_out_of_range_settings()
    {
        Assert.Equal("Proxy", (Target() with { Proxy = ProxyKind.Nginx, BluePort = 4001, GreenPort = 4002, ProxyPort = 8081 }).FindProblem()?.Key);
        Assert.Equal("SwarmUpdateParallelism", (Target() with { SwarmUpdateParallelism = 0 }).FindProblem()?.Key);
        Assert.Equal("SwarmMonitorSec", (Target() with { SwarmMonitorSec = 0 }).FindProblem()?.Key);
        Assert.Null(Target().FindProblem());
    }
}
