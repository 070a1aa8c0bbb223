using System;
using System.Collections.Generic;
using System.Linq;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Notifications;
using YieldVault.Ops.Runbook;
using YieldVault.Ops.Smoke;

namespace YieldVault.Ops.Hosting;

/// <summary>What the drill borrows from the other parts of the module: smoke checks, records, notifications.</summary>
internal static class DrillHooks
{
    public static Func<VaultTarget, CancellationToken, Task<IReadOnlyList<VaultCheckOutcome>>> Smoke(IHostShell shell, SecretRedactor redactor, SecureString? apiKey) =>
        async (target, cancellationToken) =>
        {
            var options = new SmokeOptions { ApiKey = apiKey, IncludeWrite = apiKey is not null };
            var results = await SmokeRunner.RunAsync(target, shell, options, redactor, null, cancellationToken).ConfigureAwait(false);
            var outcomes = results.Select(r => new VaultCheckOutcome(r.Name, r.Passed, r.Detail)).ToList();
            if (target.PublicUrl is { } publicUrl)
            {
                // Runbook 9.2: the same checks through the public URL.
                var external = await SmokeRunner.RunAsync(target, shell, new SmokeOptions { BaseUrl = publicUrl }, redactor, null, cancellationToken).ConfigureAwait(false);
                var failed = external.Where(r => !r.Passed).Select(r => r.Name).ToList();
                outcomes.Add(new VaultCheckOutcome("External", failed.Count == 0,
                    failed.Count == 0 ? $"{external.Count} checks passed through {publicUrl.GetLeftPart(UriPartial.Authority)}" : "failed through the public URL: " + string.Join(", ", failed)));
            }

            return outcomes;
        };

    public static Func<VaultDrillResult, CancellationToken, Task<bool>> Record(IHostShell shell, SecretRedactor redactor) =>
        async (drill, cancellationToken) =>
        {
            var record = new VaultDeploymentResult
            {
                Target = drill.Target,
                RunId = (drill.Deployment?.RunId ?? DeploymentJournal.NewRunId(drill.TestedAt)) + "-drill",
                Kind = DeploymentRecords.DrillKind,
                Status = drill.Passed ? DeploymentStatus.Succeeded : DeploymentStatus.Failed,
                Source = drill.Ref,
                Incident = drill.Deployment?.Incident,
                VersionBefore = drill.VersionBefore,
                VersionAfter = drill.Rollback?.VersionAfter ?? drill.Deployment?.VersionAfter,
                CommitAfter = drill.Rollback?.CommitAfter ?? drill.Deployment?.CommitAfter,
                StartedAt = drill.TestedAt,
                Duration = drill.Duration,
                DowntimeMs = (drill.Deployment?.DowntimeMs ?? 0) + (drill.Rollback?.DowntimeMs ?? 0),
                JournalPath = drill.Deployment?.JournalPath ?? "",
                Error = drill.Error,
            };
            try
            {
                await DeploymentRecords.AppendAsync(drill.Target!, shell, record, redactor, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (VaultException ex)
            {
                Reporting.Current.Warning($"The drill could not be recorded: {redactor.Redact(ex.Message)}");
                return false;
            }
        };

    public static Func<VaultDrillResult, CancellationToken, Task<bool>>? Notify(SecretRedactor redactor, SecureString? webhookUrl)
    {
        if (webhookUrl is null)
        {
            return null;
        }

        return async (drill, cancellationToken) =>
        {
            try
            {
                var address = WebhookAddress.Parse(SecureStrings.Unprotect(webhookUrl), redactor);
                var message = drill.Deployment is null
                    ? SlackMessage.ForText($"Runbook drill on {drill.Target?.Name}: FAILED before the deployment. {drill.Error}", redactor)
                    : SlackMessage.ForDeployment(drill.Deployment, redactor);
                var result = await WebhookSender.SendAsync(address, message, new WebhookRetryPolicy(), redactor, Reporting.Current, cancellationToken).ConfigureAwait(false);
                if (!result.Delivered)
                {
                    Reporting.Current.Warning($"The drill notification was not delivered: {result.Error}");
                }

                return result.Delivered;
            }
            catch (VaultException ex)
            {
                Reporting.Current.Warning($"The drill notification was not sent: {redactor.Redact(ex.Message)}");
                return false;
            }
        };
    }
}
