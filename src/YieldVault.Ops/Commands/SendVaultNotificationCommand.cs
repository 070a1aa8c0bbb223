using System;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Security;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Notifications;

namespace YieldVault.Ops.Commands;

/// <summary>
/// Runbook 10.3 Notify Stakeholders: posts the deployment's outcome (or a free text) to a Slack incoming
/// webhook. A notification that cannot be delivered is a warning, never a terminating error, so
/// <c>Invoke-VaultDeployment | Send-VaultNotification</c> never fails because Slack is down.
/// </summary>
[Cmdlet(VerbsCommunications.Send, "VaultNotification", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = DeploymentSet)]
[OutputType(typeof(VaultNotificationResult))]
public sealed class SendVaultNotificationCommand : VaultCmdlet
{
    internal const string UrlVariable = "YIELDVAULT_SLACK_WEBHOOK_URL";
    internal const string SlackUrlVariable = "SLACK_WEBHOOK_URL";
    private const string DeploymentSet = "Deployment";
    private const string MessageSet = "Message";

    private WebhookAddress? _address;

    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = DeploymentSet)]
    [ValidateNotNull]
    public VaultDeploymentResult InputObject { get; set; } = null!;

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = MessageSet)]
    [ValidateNotNullOrEmpty]
    [ValidateLength(1, SlackMessage.MaxSectionLength)]
    public string Message { get; set; } = "";

    /// <summary>The incoming webhook URL, a secret; without it, $env:YIELDVAULT_SLACK_WEBHOOK_URL, then $env:SLACK_WEBHOOK_URL.</summary>
    [Parameter]
    [ValidateNotNull]
    [SecureStringOnly]
    public SecureString WebhookUrl { get; set; } = null!;

    [Parameter]
    [ValidateRange(1, 10)]
    public int MaxAttempts { get; set; } = 4;

    [Parameter]
    [ValidateRange(1, 60)]
    public int TimeoutSec { get; set; } = 10;

    /// <summary>Writes the non-terminating error NotificationFailed instead of a warning when delivery fails.</summary>
    [Parameter]
    public SwitchParameter FailOnError { get; set; }

    private bool IsWhatIf =>
        (MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value) && value is SwitchParameter { IsPresent: true })
        || (!MyInvocation.BoundParameters.ContainsKey("WhatIf") && GetVariableValue("WhatIfPreference") is SwitchParameter { IsPresent: true } or true);

    // The URL is checked here, before any command of the pipeline has processed anything: a missing or
    // invalid URL stops the pipeline before a deployment upstream has started, never after it ran.
    protected override void BeginProcessing()
    {
        string? url;
        string source;
        if (MyInvocation.BoundParameters.ContainsKey(nameof(WebhookUrl)))
        {
            url = new NetworkCredential("", WebhookUrl).Password;
            source = "-WebhookUrl";
        }
        else
        {
            url = Environment.GetEnvironmentVariable(UrlVariable);
            source = "$env:" + UrlVariable;
            if (string.IsNullOrWhiteSpace(url))
            {
                url = Environment.GetEnvironmentVariable(SlackUrlVariable);
                source = "$env:" + SlackUrlVariable;
            }
        }

        if (string.IsNullOrWhiteSpace(url))
        {
            if (IsWhatIf)
            {
                return;
            }

            ThrowVaultError(new VaultException(ErrorIds.WebhookUrlMissing, VaultErrorKind.InvalidArgument,
                $"No webhook URL: -WebhookUrl was not given (or is empty) and neither $env:{UrlVariable} nor $env:{SlackUrlVariable} is set. Nothing was sent.",
                "Pass the Slack incoming webhook URL as a SecureString, for example -WebhookUrl (Get-Secret SlackWebhook), or set $env:YIELDVAULT_SLACK_WEBHOOK_URL."), null);
            return;
        }

        try
        {
            _address = WebhookAddress.Parse(url!, Redactor);
        }
        catch (VaultException ex)
        {
            ThrowVaultError(new VaultException(ex.ErrorId, ex.Kind, $"{source}: {ex.Message}", ex.RecommendedAction), null);
        }

        WriteVerbose($"Webhook URL from {source}: the webhook on {_address!.Host} (the URL itself is a secret and is never shown).");
    }

    protected override void ProcessRecord()
    {
        SlackMessage message;
        try
        {
            message = ParameterSetName == MessageSet
                ? SlackMessage.ForText(Message, Redactor)
                : SlackMessage.ForDeployment(InputObject, Redactor);
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            // A defect, but a notification must still not fail the pipeline it reports on.
            Report(new VaultNotificationResult
            {
                Target = ParameterSetName == MessageSet ? null : InputObject.Target?.Name,
                Error = Redactor.Redact($"The message could not be built: {ex.GetType().Name}: {ex.Message}"),
            }, "");
            return;
        }

        var where = _address is null ? "the Slack webhook (no URL is set)" : $"the webhook on {_address.Host}";
        var subject = message.Target is null ? "" : $" for {message.Target}";
        var preview = string.Join("\n", new[] { message.Text }.Concat(message.Section.Split('\n')).Select(line => "    " + line));
        if (!ShouldProcess($"Send notification{subject} to {where}:\n{preview}", $"Send the notification{subject} \"{message.Text}\" to {where}?", "Send-VaultNotification"))
        {
            return;
        }

        if (_address is null)
        {
            return;
        }

        var address = _address;
        var policy = new WebhookRetryPolicy
        {
            MaxAttempts = MaxAttempts,
            AttemptTimeout = TimeSpan.FromSeconds(TimeoutSec),
        };

        VaultNotificationResult result;
        try
        {
            result = Run((output, token) => WebhookSender.SendAsync(address, message, policy, Redactor, output, token));
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            // The sender reports failures in its result; anything else is a defect, still not allowed to fail the pipeline.
            result = new VaultNotificationResult
            {
                Target = message.Target,
                Text = message.Text,
                Error = Redactor.Redact($"Unexpected {ex.GetType().Name}: {ex.Message}"),
            };
        }

        Report(result, subject);
    }

    /// <summary>Writes the result and, when it was not delivered, the warning (or with -FailOnError the error).</summary>
    private void Report(VaultNotificationResult result, string subject)
    {
        WriteObject(result);
        if (result.Delivered)
        {
            return;
        }

        var text = Redactor.Redact(string.Format(CultureInfo.InvariantCulture, "The notification{0} was not delivered ({1} attempt{2}): {3}",
            subject, result.Attempts, result.Attempts == 1 ? "" : "s", result.Error));
        if (FailOnError)
        {
            WriteError(ErrorRecords.Create(ErrorIds.NotificationFailed, result.StatusCode is null ? ErrorCategory.ConnectionError : ErrorCategory.InvalidResult, text, result,
                "Check the webhook URL and that the Slack app is still installed; 403 invalid_token or 404 no_service mean the URL was revoked."));
        }
        else
        {
            WriteWarning(text);
        }
    }
}

/// <summary>
/// Refuses a plain string for a SecureString parameter with a message of its own: PowerShell's conversion
/// error would quote the string, and for -WebhookUrl that string is the secret.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class SecureStringOnlyAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        if (value is string)
        {
            throw new ArgumentTransformationMetadataException(
                "A plain string is not accepted here (the value is not shown: it is a secret). Pass a SecureString, for example (Get-Secret SlackWebhook) or (Read-Host -AsSecureString), or set $env:YIELDVAULT_SLACK_WEBHOOK_URL and leave the parameter out.");
        }

        return inputData;
    }
}
