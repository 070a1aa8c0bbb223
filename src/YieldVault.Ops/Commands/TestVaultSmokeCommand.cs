using System;
using System.Management.Automation;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Smoke;

namespace YieldVault.Ops.Commands;

/// <summary>Runbook Step 8 (smoke tests) and 9.2 (external access): the backend's critical endpoints, one result per check.</summary>
[Cmdlet(VerbsDiagnostic.Test, "VaultSmoke")]
[OutputType(typeof(VaultSmokeResult))]
public sealed class TestVaultSmokeCommand : VaultTargetCmdlet
{
    /// <summary>Check through this URL from this machine (runbook 9.2) instead of through the target's localhost.</summary>
    [Parameter]
    [ValidateNotNull]
    public Uri? BaseUrl { get; set; }

    [Parameter]
    [ValidateNotNull]
    public SecureString? ApiKey { get; set; }

    [Parameter]
    public SwitchParameter IncludeWrite { get; set; }

    [Parameter]
    public SwitchParameter RateLimitProbe { get; set; }

    [Parameter]
    [ValidateRange(1, 120)]
    public int TimeoutSec { get; set; } = 10;

    // Through one public URL every target is the same load balancer, and a probe's burst would skew the
    // checks of a target that runs beside it: then one target at a time.
    protected override int Throttle => BaseUrl is null && !RateLimitProbe ? 8 : 1;

    protected override void BeginProcessing()
    {
        if (BaseUrl is not null && SmokeRunner.BaseUrlProblem(BaseUrl) is { } problem)
        {
            ThrowTerminatingError(ErrorRecords.Create(ErrorIds.BaseUrlInvalid, ErrorCategory.InvalidArgument, problem, null,
                "Give the public address of the backend, such as -BaseUrl https://api.yieldvault.finance."));
        }

        if (BaseUrl is not null && (IncludeWrite || ApiKey is not null) && SmokeRunner.ApiKeyTransportProblem(BaseUrl) is { } insecure)
        {
            ThrowTerminatingError(ErrorRecords.Create(ErrorIds.BaseUrlNotSecure, ErrorCategory.SecurityError, insecure, BaseUrl, SmokeRunner.InsecureAction));
        }

        base.BeginProcessing();
    }

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var options = new SmokeOptions
        {
            BaseUrl = BaseUrl,
            ApiKey = ApiKey,
            IncludeWrite = IncludeWrite || ApiKey is not null,
            RateLimitProbe = RateLimitProbe,
            Timeout = TimeSpan.FromSeconds(TimeoutSec),
        };
        await SmokeRunner.RunAsync(target, shell, options, Redactor, output.Output, cancellationToken).ConfigureAwait(false);
    }
}
