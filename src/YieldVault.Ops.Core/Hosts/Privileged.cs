using System.Linq;

namespace YieldVault.Ops.Hosts;

/// <summary>Runs a command as root where the target's user is not: "sudo -n" (never prompts; fails instead).</summary>
public static class Privileged
{
    public static CommandLine Command(VaultTarget target, string program, params string[] arguments) =>
        target.NeedsSudo
            ? new CommandLine("sudo", new[] { "-n", "--", program }.Concat(arguments))
            : new CommandLine(program, arguments);
}
