# Send-VaultNotification end to end: a real HTTP server on 127.0.0.1 (tests/services/Webhook.TestServices.psm1)
# stands in for a Slack incoming webhook, records every request and answers scripted status codes. Checks the
# runbook's message (10.3), retries and Retry-After, that a failed notification is only a warning, and that
# the webhook URL (with a token planted in its path) never shows in any stream, error or -WhatIf.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Webhook.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    # Tests choose where the URL comes from; the developer's own settings must not leak in.
    $script:SavedEnvironment = @{}
    foreach ($name in 'YIELDVAULT_SLACK_WEBHOOK_URL', 'SLACK_WEBHOOK_URL') {
        $SavedEnvironment[$name] = [Environment]::GetEnvironmentVariable($name)
        [Environment]::SetEnvironmentVariable($name, $null)
    }

    # The module's types live in its own load context: build the result through the type the module loaded.
    $script:Core = (New-VaultTarget -Name probe).GetType().Assembly
    function New-DeploymentResult {
        param(
            [string] $Status = 'Succeeded', [string] $Kind = 'deploy', [string] $Before = '1.2.3', [string] $After = '1.3.0',
            [double] $DowntimeMs = 1234, [string] $Incident, [string] $ErrorText, [string] $ErrorId, [string] $Name = 'prod-1'
        )
        $r = [Activator]::CreateInstance($Core.GetType('YieldVault.Ops.VaultDeploymentResult'))
        $r.Target = New-VaultTarget -Name $Name -Environment production
        $r.Status = $Status
        $r.Kind = $Kind
        $r.Source = 'v1.3.0'
        $r.VersionBefore = $Before
        $r.VersionAfter = $After
        $r.DowntimeMs = $DowntimeMs
        $r.Probes = 40
        $r.Duration = [TimeSpan]::FromSeconds(90)
        if ($Incident) { $r.Incident = $Incident }
        if ($ErrorText) { $r.Error = $ErrorText }
        if ($ErrorId) { $r.ErrorId = $ErrorId }
        $r
    }

    function ConvertTo-SecureUrl([string] $Url) { ConvertTo-SecureString -String $Url -AsPlainText -Force }

    function Get-Section($Request) {
        $block = @($Request.Json.blocks)[0]
        $block.type | Should-Be 'section'
        $block.text.type | Should-Be 'mrkdwn'
        $block.text.text
    }
}

AfterAll {
    Stop-AllTestWebhookListeners
    foreach ($name in $SavedEnvironment.Keys) { [Environment]::SetEnvironmentVariable($name, $SavedEnvironment[$name]) }
}

Describe 'Send-VaultNotification posts the runbook message' {
    It 'posts text and the section with version, downtime and status for a succeeded deployment' {
        $hook = Start-TestWebhookListener
        try {
            $n = New-DeploymentResult -Incident INCIDENT-123 | Send-VaultNotification -WebhookUrl (ConvertTo-SecureUrl $hook.Url)
            $n.GetType().FullName | Should-Be 'YieldVault.Ops.VaultNotificationResult'
            $n.Delivered | Should-BeTrue
            $n.Attempts | Should-Be 1
            $n.StatusCode | Should-Be 200
            $n.Target | Should-Be 'prod-1'
            $n.Error | Should-BeNull

            $requests = @(Get-TestWebhookRequests $hook)
            $requests.Count | Should-Be 1
            $requests[0].Method | Should-Be 'POST'
            $requests[0].ContentType | Should-BeLikeString 'application/json*'
            $requests[0].Json.text | Should-Be '✅ Backend deployment completed successfully'
            $section = Get-Section $requests[0]
            $lines = $section -split "`n"
            $lines[0..3] | Should-BeCollection @('*Backend Deployment Complete*', '• Version: v1.3.0 (from v1.2.3)', '• Downtime: 1.2 s', '• Status: All systems operational')
            $lines | Should-ContainCollection '• Target: prod-1 (production)'
            $lines | Should-ContainCollection '• Incident: INCIDENT-123'
        }
        finally { Stop-TestWebhookListener $hook }
    }

    It 'sends one message per piped result: rolled back and failed, with target, environment, incident and the error' {
        $hook = Start-TestWebhookListener
        try {
            $results = @(
                New-DeploymentResult -Status RolledBack -After 1.2.3 -Incident INC-7 -ErrorId HealthCheckTimeout -ErrorText "/health did not answer 200 within 60 s.`nsecond line"
                New-DeploymentResult -Status Failed -After '' -Name prod-2 -ErrorId BuildFailed -ErrorText 'npm run build failed <!channel>'
            )
            $n = @($results | Send-VaultNotification -WebhookUrl (ConvertTo-SecureUrl $hook.Url))
            $n.Count | Should-Be 2
            $n.Delivered | Should-BeCollection @($true, $true)
            $n.Target | Should-BeCollection @('prod-1', 'prod-2')

            $requests = @(Get-TestWebhookRequests $hook)
            $requests.Count | Should-Be 2
            $requests[0].Json.text | Should-Be '⚠️ Backend deployment rolled back'
            $rolledBack = Get-Section $requests[0]
            $rolledBack | Should-BeLikeString "*Backend Deployment Rolled Back*`n• Version: v1.2.3 serves again`n*"
            $rolledBack | Should-BeLikeString '*• Target: prod-1 (production)*'
            $rolledBack | Should-BeLikeString '*• Incident: INC-7*'
            $rolledBack | Should-BeLikeString '*• Error: HealthCheckTimeout: /health did not answer 200 within 60 s.*'
            $rolledBack | Should-NotBeLikeString '*second line*'

            $requests[1].Json.text | Should-Be '❌ Backend deployment failed'
            $failed = Get-Section $requests[1]
            $failed | Should-BeLikeString '*Backend Deployment Failed*'
            $failed | Should-BeLikeString '*• Target: prod-2 (production)*'
            $failed | Should-BeLikeString '*• Error: BuildFailed: npm run build failed &lt;!channel&gt;*'
        }
        finally { Stop-TestWebhookListener $hook }
    }

    It 'sends a free text with -Message' {
        $hook = Start-TestWebhookListener
        try {
            $n = Send-VaultNotification 'Maintenance *starts* at 22:00 UTC' -WebhookUrl (ConvertTo-SecureUrl $hook.Url)
            $n.Delivered | Should-BeTrue
            $n.Target | Should-BeNull
            $request = @(Get-TestWebhookRequests $hook)[0]
            $request.Json.text | Should-Be 'Maintenance *starts* at 22:00 UTC'
            Get-Section $request | Should-Be 'Maintenance *starts* at 22:00 UTC'
        }
        finally { Stop-TestWebhookListener $hook }
    }

    It 'takes the URL from $env:YIELDVAULT_SLACK_WEBHOOK_URL, then $env:SLACK_WEBHOOK_URL, and -WebhookUrl over both' {
        $ours = Start-TestWebhookListener
        $slack = Start-TestWebhookListener
        $param = Start-TestWebhookListener
        try {
            $env:YIELDVAULT_SLACK_WEBHOOK_URL = $ours.Url
            $env:SLACK_WEBHOOK_URL = $slack.Url
            (Send-VaultNotification -Message one).Delivered | Should-BeTrue
            (Send-VaultNotification -Message two -WebhookUrl (ConvertTo-SecureUrl $param.Url)).Delivered | Should-BeTrue
            $env:YIELDVAULT_SLACK_WEBHOOK_URL = $null
            (Send-VaultNotification -Message three).Delivered | Should-BeTrue

            @(Get-TestWebhookRequests $ours).Json.text | Should-BeCollection @('one')
            @(Get-TestWebhookRequests $param).Json.text | Should-BeCollection @('two')
            @(Get-TestWebhookRequests $slack).Json.text | Should-BeCollection @('three')
        }
        finally {
            $env:YIELDVAULT_SLACK_WEBHOOK_URL = $null
            $env:SLACK_WEBHOOK_URL = $null
            $ours, $slack, $param | ForEach-Object { Stop-TestWebhookListener $_ }
        }
    }

    It '-WhatIf shows the message and sends nothing, also without a URL' {
        $hook = Start-TestWebhookListener
        $transcript = Join-Path $TestDrive 'whatif.txt'
        try {
            Start-Transcript -LiteralPath $transcript -UseMinimalHeader | Out-Null
            try {
                $withUrl = New-DeploymentResult | Send-VaultNotification -WebhookUrl (ConvertTo-SecureUrl $hook.Url) -WhatIf
                $withoutUrl = New-DeploymentResult -Status Failed -ErrorId BuildFailed -ErrorText boom | Send-VaultNotification -WhatIf
            }
            finally { Stop-Transcript | Out-Null }
            $withUrl | Should-BeNull
            $withoutUrl | Should-BeNull
            @(Get-TestWebhookRequests $hook).Count | Should-Be 0
            $shown = Get-Content -LiteralPath $transcript -Raw
            $shown | Should-BeLikeString "*What if: Send notification for prod-1 to the webhook on 127.0.0.1:$($hook.Port)*✅ Backend deployment completed successfully*• Version: v1.3.0 (from v1.2.3)*"
            $shown | Should-BeLikeString '*What if: Send notification for prod-1 to the Slack webhook (no URL is set)*❌ Backend deployment failed*• Error: BuildFailed: boom*'
            $shown | Should-NotBeLikeString "*$($hook.Token)*"
        }
        finally { Stop-TestWebhookListener $hook }
    }
}

Describe 'Send-VaultNotification retries' {
    It 'is delivered on the 4th attempt after 500 three times, with the same message each time' {
        $hook = Start-TestWebhookListener -Responses 500, 500, 500, 200
        try {
            $n = New-DeploymentResult | Send-VaultNotification -WebhookUrl (ConvertTo-SecureUrl $hook.Url) -WarningVariable warnings
            $n.Delivered | Should-BeTrue
            $n.Attempts | Should-Be 4
            $n.StatusCode | Should-Be 200
            $warnings.Count | Should-Be 0
            $requests = @(Get-TestWebhookRequests $hook)
            $requests.Status | Should-BeCollection @(500, 500, 500, 200)
            @($requests.Body | Select-Object -Unique).Count | Should-Be 1
            # Backoff 1, 2, 4 s (+ up to 20 % jitter) between the attempts.
            $gaps = 1..3 | ForEach-Object { ($requests[$_].ReceivedMs - $requests[$_ - 1].ReceivedMs) / 1000 }
            $gaps[0] | Should-BeGreaterThanOrEqual 1.0
            $gaps[1] | Should-BeGreaterThanOrEqual 2.0
            $gaps[2] | Should-BeGreaterThanOrEqual 4.0
            $gaps[2] | Should-BeLessThan 6.0
        }
        finally { Stop-TestWebhookListener $hook }
    }

    It 'gives up on a webhook that always answers 500: Delivered false, a warning, no error, no exception' {
        $hook = Start-TestWebhookListener -Responses 500
        try {
            $errorsBefore = $Error.Count
            $n = New-DeploymentResult | Send-VaultNotification -WebhookUrl (ConvertTo-SecureUrl $hook.Url) -MaxAttempts 3 -ErrorAction Stop -WarningVariable warnings -WarningAction SilentlyContinue
            $n.Delivered | Should-BeFalse
            $n.Attempts | Should-Be 3
            $n.StatusCode | Should-Be 500
            $n.Error | Should-BeLikeString '*answered HTTP 500*Gave up after 3 attempts.*'
            @(Get-TestWebhookRequests $hook).Count | Should-Be 3
            $warnings.Count | Should-Be 1
            "$($warnings[0])" | Should-BeLikeString 'The notification for prod-1 was not delivered (3 attempts)*HTTP 500*'
            $Error.Count | Should-Be $errorsBefore
        }
        finally { Stop-TestWebhookListener $hook }
    }

    It 'lets a script with $ErrorActionPreference Stop go on and exit 0 when the webhook is down' {
        $hook = Start-TestWebhookListener -Responses 503
        try {
            $manifest = Get-VaultModuleManifest
            $run = Invoke-FreshPwsh -TimeoutSec 60 -Script @"
`$ErrorActionPreference = 'Stop'
Import-Module '$manifest'
`$core = (New-VaultTarget -Name x).GetType().Assembly
`$result = [Activator]::CreateInstance(`$core.GetType('YieldVault.Ops.VaultDeploymentResult'))
`$result.Status = 'Succeeded'
`$env:YIELDVAULT_SLACK_WEBHOOK_URL = '$($hook.Url)'
`$n = `$result | Send-VaultNotification -MaxAttempts 2 -WarningAction SilentlyContinue
"delivered=`$(`$n.Delivered) attempts=`$(`$n.Attempts)"
'the deployment script went on'
exit 0
"@
            $run.ExitCode | Should-Be 0
            $run.Output | Should-BeLikeString '*delivered=False attempts=2*the deployment script went on*'
            $run.Error | Should-BeEmptyString
            @(Get-TestWebhookRequests $hook).Count | Should-Be 2
        }
        finally { Stop-TestWebhookListener $hook }
    }

    It 'waits as long as a 429 answer''s Retry-After says' {
        $hook = Start-TestWebhookListener -Responses 429, 200 -RetryAfter 2
        try {
            $n = Send-VaultNotification -Message 'rate limited' -WebhookUrl (ConvertTo-SecureUrl $hook.Url)
            $n.Delivered | Should-BeTrue
            $n.Attempts | Should-Be 2
            $requests = @(Get-TestWebhookRequests $hook)
            $requests.Status | Should-BeCollection @(429, 200)
            ($requests[1].ReceivedMs - $requests[0].ReceivedMs) | Should-BeGreaterThanOrEqual 2000
            ($requests[1].ReceivedMs - $requests[0].ReceivedMs) | Should-BeLessThan 3500 -Because 'Retry-After replaces the backoff, it is not added to it'
        }
        finally { Stop-TestWebhookListener $hook }
    }

    It 'does not retry when Retry-After asks for more than 30 s' {
        $hook = Start-TestWebhookListener -Responses 429 -RetryAfter 120
        try {
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $n = Send-VaultNotification -Message 'rate limited' -WebhookUrl (ConvertTo-SecureUrl $hook.Url) -WarningAction SilentlyContinue
            $watch.Elapsed.TotalSeconds | Should-BeLessThan 5
            $n.Delivered | Should-BeFalse
            $n.Attempts | Should-Be 1
            $n.StatusCode | Should-Be 429
            $n.Error | Should-BeLikeString '*asked to wait 120 s (Retry-After), longer than the 30 s*'
        }
        finally { Stop-TestWebhookListener $hook }
    }

    It 'does not retry a final answer such as 404 no_service' {
        $hook = Start-TestWebhookListener -Responses 404 -ErrorBody no_service
        try {
            $n = Send-VaultNotification -Message 'gone' -WebhookUrl (ConvertTo-SecureUrl $hook.Url) -WarningAction SilentlyContinue
            $n.Attempts | Should-Be 1
            $n.StatusCode | Should-Be 404
            $n.Error | Should-BeLikeString '*HTTP 404 Not Found (no_service). HTTP 404 is final; not retried.'
            @(Get-TestWebhookRequests $hook).Count | Should-Be 1
        }
        finally { Stop-TestWebhookListener $hook }
    }

    It 'retries a refused connection and reports it without a status' {
        $port = Get-FreeTcpPort
        $n = Send-VaultNotification -Message 'nobody listens' -WebhookUrl (ConvertTo-SecureUrl "http://127.0.0.1:$port/services/T0X/B0X/PLANTEDREFUSED0000") -MaxAttempts 2 -WarningVariable warnings -WarningAction SilentlyContinue
        $n.Delivered | Should-BeFalse
        $n.Attempts | Should-Be 2
        $n.StatusCode | Should-BeNull
        $n.Error | Should-BeLikeString "Could not reach the webhook on 127.0.0.1:${port}:*Gave up after 2 attempts.*"
        $warnings.Count | Should-Be 1
    }

    It 'ends an attempt that gets no answer within -TimeoutSec' {
        $hook = Start-TestWebhookListener -DelayMs 2500
        try {
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $n = Send-VaultNotification -Message 'slow' -WebhookUrl (ConvertTo-SecureUrl $hook.Url) -TimeoutSec 1 -MaxAttempts 1 -WarningAction SilentlyContinue
            $watch.Elapsed.TotalSeconds | Should-BeLessThan 2.2
            $n.Delivered | Should-BeFalse
            $n.StatusCode | Should-BeNull
            $n.Error | Should-BeLikeString '*did not answer within 1 s.*Gave up after 1 attempt.'
        }
        finally { Stop-TestWebhookListener $hook }
    }

    It 'writes NotificationFailed with -FailOnError, which -ErrorAction Stop makes terminating' {
        $hook = Start-TestWebhookListener -Responses 503
        try {
            $n = Send-VaultNotification -Message 'x' -WebhookUrl (ConvertTo-SecureUrl $hook.Url) -MaxAttempts 1 -FailOnError -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warnings
            $n.Delivered | Should-BeFalse
            $warnings.Count | Should-Be 0
            $errs.Count | Should-Be 1
            $errs[0].FullyQualifiedErrorId | Should-Be 'NotificationFailed,YieldVault.Ops.Commands.SendVaultNotificationCommand'
            $errs[0].CategoryInfo.Category | Should-Be 'InvalidResult'
            $errs[0].TargetObject.Delivered | Should-BeFalse

            { Send-VaultNotification -Message 'x' -WebhookUrl (ConvertTo-SecureUrl $hook.Url) -MaxAttempts 1 -FailOnError -ErrorAction Stop } |
                Should-Throw -FullyQualifiedErrorId 'NotificationFailed,YieldVault.Ops.Commands.SendVaultNotificationCommand'
        }
        finally { Stop-TestWebhookListener $hook }
    }
}

Describe 'Send-VaultNotification refuses a call that cannot work' {
    It 'stops with WebhookUrlMissing before the command in front of it has processed anything' {
        $script:upstreamRan = $false
        function Step-Upstream { process { $script:upstreamRan = $true; $_ } }
        { New-DeploymentResult | Step-Upstream | Send-VaultNotification } |
            Should-Throw -FullyQualifiedErrorId 'WebhookUrlMissing,YieldVault.Ops.Commands.SendVaultNotificationCommand'
        $script:upstreamRan | Should-BeFalse
    }

    It 'refuses http:// to another host with InvalidWebhookUrl, without quoting the URL' {
        $url = 'http://10.1.2.3/services/T0AAAA/B0BBBB/PLANTEDHTTPTOKEN000'
        $thrown = { Send-VaultNotification -Message x -WebhookUrl (ConvertTo-SecureUrl $url) } |
            Should-Throw -FullyQualifiedErrorId 'InvalidWebhookUrl,YieldVault.Ops.Commands.SendVaultNotificationCommand'
        $thrown.Exception.Message | Should-BeLikeString '-WebhookUrl: The webhook URL must be an https:// URL*'
        ($thrown | Out-String) + $thrown.Exception.ToString() | Should-NotBeLikeString '*PLANTEDHTTPTOKEN*'
    }

    It 'refuses a plain string for -WebhookUrl without quoting it' {
        $thrown = { Send-VaultNotification -Message x -WebhookUrl 'https://hooks.slack.com/services/T0AAAA/B0BBBB/PLANTEDPLAINTOKEN00' } |
            Should-Throw -FullyQualifiedErrorId 'ParameterArgumentTransformationError,YieldVault.Ops.Commands.SendVaultNotificationCommand'
        $thrown.Exception.Message | Should-BeLikeString '*A plain string is not accepted here*'
        $thrown.Exception.ToString() | Should-NotBeLikeString '*PLANTEDPLAINTOKEN*'
    }
}

Describe 'The webhook URL stays secret' {
    It 'never appears in output, verbose, warnings, errors, $Error or -WhatIf' {
        $ok = Start-TestWebhookListener
        $failing = Start-TestWebhookListener -Responses 500 -ErrorBody "echo of the request path: /services/T0TESTTEAM/B0TESTHOOK/"
        $transcript = Join-Path $TestDrive 'secret.txt'
        $Error.Clear()
        try {
            Start-Transcript -LiteralPath $transcript -UseMinimalHeader | Out-Null
            try {
                $streams = & {
                    New-DeploymentResult | Send-VaultNotification -WebhookUrl (ConvertTo-SecureUrl $ok.Url) -Verbose
                    New-DeploymentResult -Status Failed -ErrorText "failed posting to $($failing.Url)" | Send-VaultNotification -WebhookUrl (ConvertTo-SecureUrl $failing.Url) -MaxAttempts 2 -Verbose
                    Send-VaultNotification -Message "see $($failing.Url)" -WebhookUrl (ConvertTo-SecureUrl $failing.Url) -MaxAttempts 1 -FailOnError -Verbose -ErrorAction Continue
                    New-DeploymentResult | Send-VaultNotification -WebhookUrl (ConvertTo-SecureUrl $failing.Url) -WhatIf -Verbose
                    $env:SLACK_WEBHOOK_URL = $failing.Url
                    try { Send-VaultNotification -Message env -MaxAttempts 1 -Verbose } finally { $env:SLACK_WEBHOOK_URL = $null }
                    try { Send-VaultNotification -Message x -WebhookUrl (ConvertTo-SecureUrl ($failing.Url -replace '^http://127\.0\.0\.1', 'http://192.0.2.1')) } catch { $_ }
                } *>&1 | Out-String -Width 4096
            }
            finally { Stop-Transcript | Out-Null }

            $everything = $streams + (Get-Content -LiteralPath $transcript -Raw) + ($Error | Out-String -Width 4096) +
                (($Error | ForEach-Object { $_.Exception.ToString(); $_.ErrorDetails.Message; $_.ErrorDetails.RecommendedAction; "$($_.TargetObject)"; $_.FullyQualifiedErrorId }) -join "`n")
            $everything | Should-BeLikeString '*accepted the notification*'         # the streams were captured
            $everything | Should-BeLikeString '*not delivered*'
            $everything | Should-BeLikeString '*NotificationFailed*'
            $everything | Should-BeLikeString '*InvalidWebhookUrl*'
            foreach ($hook in $ok, $failing) {
                $everything | Should-NotBeLikeString "*$($hook.Token)*"
                $everything | Should-NotBeLikeString "*$($hook.Url)*"
            }
            $everything | Should-NotBeLikeString '*/services/T0TESTTEAM*'
            $everything | Should-NotBeLikeString '*B0TESTHOOK*'

            # What was posted is clean too: the failed deployment's error and the free text quoted the URL.
            foreach ($request in @(Get-TestWebhookRequests $failing)) {
                $request.Body | Should-NotBeLikeString "*$($failing.Token)*"
            }
        }
        finally {
            Stop-TestWebhookListener $ok
            Stop-TestWebhookListener $failing
        }
    }
}
