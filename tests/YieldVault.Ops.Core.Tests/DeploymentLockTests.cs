using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Xunit;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Core.Tests;

/// <summary>The deployment lock on this machine's shell: who may take it over, and a run that lost it.</summary>
public sealed class DeploymentLockTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "yv-lock-" + Guid.NewGuid().ToString("N").Substring(0, 8));
    private readonly VaultTarget _target;
    private readonly LocalShell _shell = new();

    public DeploymentLockTests()
    {
        Directory.CreateDirectory(_root);
        _target = new VaultTarget { Name = "lock-1", StatePath = _root + "/state", AppPath = _root + "/app" };
    }

    private string LockFile => DeploymentReadiness.LockPath(_target);

    [Fact]
    public void The_machine_identity_is_known_on_linux()
    {
        Assert.Matches("^[0-9a-f-]{36}$", MachineIdentity.BootId);
        Assert.Matches("^[0-9]+$", MachineIdentity.PidNamespace);
        Assert.Contains($"boot={MachineIdentity.BootId} pidns={MachineIdentity.PidNamespace} pid=", DeploymentLock.Me, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_empty_lock_file_is_stale_not_held_by_nobody()
    {
        WriteLock("");
        var refused = await Assert.ThrowsAsync<VaultException>(() => DeploymentLock.AcquireAsync(_target, _shell, NewRunId(), false, CancellationToken.None));
        Assert.Equal(ErrorIds.DeploymentLockStale, refused.ErrorId);
        Assert.Contains("empty", refused.Message, StringComparison.Ordinal);
        await using var held = await DeploymentLock.AcquireAsync(_target, _shell, NewRunId(), true, CancellationToken.None);
        Assert.Contains("token=" + held.Token + " ", File.ReadAllText(LockFile), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dead_pid_counts_only_on_the_same_boot_and_pid_namespace()
    {
        var dead = DeadPid();
        // The same host name, but another boot (a cloned machine, or this one before a reboot): its pid means nothing here.
        WriteLock($"run={NewRunId()} token=abc host={Environment.MachineName} boot=00000000-0000-0000-0000-000000000000 pidns={MachineIdentity.PidNamespace} pid={dead} user=x");
        var held = await Assert.ThrowsAsync<VaultException>(() => DeploymentLock.AcquireAsync(_target, _shell, NewRunId(), false, CancellationToken.None));
        Assert.Equal(ErrorIds.DeploymentLocked, held.ErrorId);

        // Another pid namespace (a container on this kernel): the same.
        WriteLock($"run={NewRunId()} token=abc host={Environment.MachineName} boot={MachineIdentity.BootId} pidns=1 pid={dead} user=x");
        held = await Assert.ThrowsAsync<VaultException>(() => DeploymentLock.AcquireAsync(_target, _shell, NewRunId(), false, CancellationToken.None));
        Assert.Equal(ErrorIds.DeploymentLocked, held.ErrorId);

        // This machine, this namespace, a process that is gone: stale.
        WriteLock($"run={NewRunId()} token=abc host={Environment.MachineName} boot={MachineIdentity.BootId} pidns={MachineIdentity.PidNamespace} pid={dead} user=x");
        var stale = await Assert.ThrowsAsync<VaultException>(() => DeploymentLock.AcquireAsync(_target, _shell, NewRunId(), false, CancellationToken.None));
        Assert.Equal(ErrorIds.DeploymentLockStale, stale.ErrorId);
        Assert.Contains($"process {dead}", stale.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_owner_sees_when_its_lock_was_taken_and_does_not_remove_the_new_one()
    {
        var held = await DeploymentLock.AcquireAsync(_target, _shell, NewRunId(), false, CancellationToken.None);
        var check = await _shell.RunAsync(CommandLine.Script(held.OwnershipCheck), TimeSpan.FromSeconds(10), CancellationToken.None);
        Assert.Equal(0, check.ExitCode);

        // Another run cleared it (-Force) and took it.
        var theirs = $"run={NewRunId()} token=theirs host=elsewhere pid=1 user=y";
        File.Delete(LockFile);
        WriteLock(theirs);
        check = await _shell.RunAsync(CommandLine.Script(held.OwnershipCheck), TimeSpan.FromSeconds(10), CancellationToken.None);
        Assert.Equal(9, check.ExitCode);
        Assert.Contains("lock-lost", check.StandardOutput, StringComparison.Ordinal);

        await held.DisposeAsync();
        Assert.Equal(theirs, File.ReadAllText(LockFile).Trim());
    }

    public void Dispose()
    {
        _shell.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private void WriteLock(string holder)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(LockFile)!);
        File.WriteAllText(LockFile, holder.Length == 0 ? "" : holder + "\n");
    }

    private static string NewRunId() => DeploymentJournal.NewRunId(DateTimeOffset.UtcNow);

    private static int DeadPid()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        process.WaitForExit();
        return process.Id;
    }
}
