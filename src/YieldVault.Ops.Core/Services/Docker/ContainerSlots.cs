using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Proxies;

namespace YieldVault.Ops.Services;

/// <summary>
/// The slots of a blue-green Docker target: a container per slot, &lt;service&gt;-&lt;port&gt;, made like the live one (its
/// network, mounts, limits, labels: <see cref="DockerContainerSpec"/>) but answering on the slot's port: with the
/// host's network PORT in its environment is the slot's port; on a bridge network the live port's binding is
/// published at the slot's port instead. The container of a target that ran in place (&lt;service&gt;) is the blue slot
/// until blue gets a new version.
/// </summary>
internal sealed class ContainerSlots : SlotInstances
{
    public ContainerSlots(VaultTarget target, IHostShell shell)
        : base(target, shell)
    {
    }

    /// <summary>The container (and what it was made from) that a new slot container copies its settings from.</summary>
    public SlotRecord? Template { get; set; }

    public TrafficSlot TemplateSlot { get; set; }

    public override async Task<SlotRecord> StartNewAsync(TrafficSlot slot, SlotRecord? old, NewVersion version, TimeSpan stopTimeout, CancellationToken cancellationToken)
    {
        var image = version.Image ?? throw new InvalidOperationException("A container slot needs an image.");
        var env = await EnvironmentFiles.ReadAsync(Target, Shell, new SecretRedactor(), cancellationToken).ConfigureAwait(false)
            ?? throw new VaultException(ErrorIds.EnvironmentInvalid, VaultErrorKind.InvalidData,
                $"{Target.DisplayName}: the env file {Target.EnvFilePath} does not exist; the container's environment comes from it. Nothing was changed.",
                $"Create {Target.EnvFilePath} (mode 600) with the backend's variables and deploy again.");
        var name = InstanceFor(slot);
        var port = Target.SlotPort(slot);
        using var docker = DockerContainers.Open(Target, Shell);
        var template = Template is null ? null : await docker.InspectAsync(Template.Instance, cancellationToken).ConfigureAwait(false);
        var templateImage = template is null ? null : await docker.InspectImageAsync(template.Image, cancellationToken).ConfigureAwait(false);

        // What ran in this slot before (the version before the live one, or a failed one) makes way; never the template.
        if (old is not null && old.Instance != Template?.Instance)
        {
            await RemoveAsync(slot, old, stopTimeout, cancellationToken).ConfigureAwait(false);
        }

        if (await docker.InspectAsync(name, cancellationToken).ConfigureAwait(false) is { } leftover && leftover.ID != template?.ID)
        {
            await docker.RemoveAsync(leftover.ID, cancellationToken).ConfigureAwait(false);
        }

        var environment = new Dictionary<string, string>(env.ToDictionary(p => p.Key, p => p.Value), StringComparer.Ordinal);
        var liveHostPort = Target.SlotPort(TemplateSlot).ToString(CultureInfo.InvariantCulture);
        if (template?.HostConfig is { } host)
        {
            if (host.NetworkMode == "host")
            {
                environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
            }
            else if (host.PortBindings is { } bindings)
            {
                // The binding that published the live slot's port publishes this slot's port instead.
                foreach (var binding in bindings.Values.Where(b => b is not null).SelectMany(b => b))
                {
                    if (binding?.HostPort == liveHostPort)
                    {
                        binding.HostPort = port.ToString(CultureInfo.InvariantCulture);
                    }
                }
            }
        }
        else
        {
            environment["PORT"] = environment.TryGetValue("PORT", out var given) ? given : DockerContainerSpec.AppDefaultPort.ToString(CultureInfo.InvariantCulture);
        }

        var plan = DockerContainerSpec.Build(Target with { Port = port }, name, image, environment, template, templateImage);
        foreach (var warning in plan.Warnings)
        {
            Reporting.Current.Warning($"{Target.Name}: {warning}");
        }

        var id = await docker.CreateAsync(plan.Create, cancellationToken).ConfigureAwait(false);
        foreach (var network in plan.ExtraNetworks)
        {
            await docker.ConnectAsync(network.Key, id, network.Value, cancellationToken).ConfigureAwait(false);
        }

        Reporting.Current.Verbose($"{Target.Name}:   created {name} ({DockerContainers.Short(id)}): {plan.Networking}");
        var record = new SlotRecord(name, image, null, image, version.Version, version.Commit);
        await StartAsync(slot, record, cancellationToken).ConfigureAwait(false);
        return record;
    }

    /// <summary>Stops the slot's container and removes it (its image stays); never the container of the other slot.</summary>
    public override async Task RemoveAsync(TrafficSlot slot, SlotRecord record, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await StopAsync(slot, record, timeout, cancellationToken).ConfigureAwait(false);
        using var docker = DockerContainers.Open(Target, Shell);
        if (await docker.InspectAsync(record.Instance, cancellationToken).ConfigureAwait(false) is { } container)
        {
            await docker.RemoveAsync(container.ID, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Pulls the image (unless the engine has it) and reads the version and commit from its labels.</summary>
    public async Task<NewVersion> PrepareAsync(string image, Runbook.DeploymentRequest request, Action<string> step, CancellationToken cancellationToken)
    {
        using var docker = DockerContainers.Open(Target, Shell);
        var (pulled, _) = await docker.EnsureImageAsync(image,
            token => DockerRegistryAuth.ResolveAsync(Target, Shell, image, request.RegistryCredential, request.Redactor ?? new SecretRedactor(), step, token), step,
            cancellationToken).ConfigureAwait(false);
        var labels = pulled.Config?.Labels;
        return new NewVersion(image, null, image, DockerImages.VersionOf(labels, image), DockerImages.CommitOf(labels));
    }

    /// <summary>The image a slot's container runs, for a slot nobody recorded (a target that ran in place).</summary>
    public async Task<string?> ImageOfAsync(string instance, CancellationToken cancellationToken)
    {
        using var docker = DockerContainers.Open(Target, Shell);
        var container = await docker.InspectAsync(instance, cancellationToken).ConfigureAwait(false);
        return container is null ? null : string.IsNullOrEmpty(container.Config?.Image) ? container.Image : container.Config!.Image;
    }
}
