# The asking itself: the cmdlets that stop, replace or take over what serves declare ConfirmImpact High, so with the
# default $ConfirmPreference (High) they ask first; where nobody can answer they fail before changing anything. Checked
# in child pwsh processes (the suites run with $ConfirmPreference 'None'), against the sample backend v1.2.3 under PM2
# on this machine: a -NonInteractive pwsh, and a pwsh without -NonInteractive whose input is at its end (as cron or a
# systemd unit start a script that forgot the switch).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/SampleArtifacts.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'OnCallCommon.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Stack = New-OnCallStack -Tags 'v1.3.0' -Name confirm
    $script:W = New-OnCallWorkspace -Stack $Stack -TargetName confirm-1
    $script:Art = Wait-OnCallArtifacts $Stack
    $script:Manifest = Get-VaultModuleManifest

    # A child pwsh with the module and $t; its $ConfirmPreference is the default. -NoInput: not -NonInteractive, and
    # its standard input is empty (redirected and closed), as a scheduler starts it.
    function Invoke-Child([string] $Body, [switch] $NoInput, [int] $TimeoutSec = 180) {
        $params = ($W.Params.GetEnumerator() | ForEach-Object { "$($_.Key) = '$($_.Value)'" }) -join '; '
        $file = Join-Path $W.Directory ('child-' + [guid]::NewGuid().ToString('N') + '.ps1')
        Set-Content -LiteralPath $file -Value @"
`$PSStyle.OutputRendering = 'PlainText'
Import-Module '$Manifest'
`$p = @{ $params }
`$t = New-VaultTarget @p
`$artifact = '$($Art['v1.3.0'].Artifact)'; `$sha = '$($Art['v1.3.0'].Sha256)'
"confirm=`$ConfirmPreference"
$Body
"@
        $psi = [Diagnostics.ProcessStartInfo]::new((Get-PwshPath))
        foreach ($a in @('-NoProfile') + @(if (-not $NoInput) { '-NonInteractive' }) + @('-File', $file)) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardInput = $true
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $p = [Diagnostics.Process]::Start($psi)
        try {
            $p.StandardInput.Close()
            $out = $p.StandardOutput.ReadToEndAsync()
            $err = $p.StandardError.ReadToEndAsync()
            if (-not $p.WaitForExit($TimeoutSec * 1000)) { $p.Kill($true); throw "The child pwsh did not finish within $TimeoutSec s." }
            $p.WaitForExit()
            [pscustomobject]@{ ExitCode = $p.ExitCode; Output = $out.Result + $err.Result }
        }
        finally { $p.Dispose(); Remove-Item -LiteralPath $file -ErrorAction Ignore }
    }
    function Assert-Unchanged($Before, [string[]] $Journals) {
        $after = Get-OnCallServed $W
        $after.Health | Should-Be 200
        $after.Version | Should-Be $Before.Version
        $after.Pid | Should-Be $Before.Pid
        Test-Path -LiteralPath $W.Lock | Should-BeFalse
        @(Get-OnCallJournalFiles $W).Count | Should-Be $Journals.Count -Because 'nothing ran: no new journal'
    }
}

AfterAll {
    Stop-OnCallStack $script:Stack
    Stop-AllTestServices
}

Describe 'ConfirmImpact' {
    It '<Name> declares ConfirmImpact High' -ForEach @(
        @{ Name = 'Invoke-VaultDeployment' }, @{ Name = 'Undo-VaultDeployment' }, @{ Name = 'Stop-VaultBackend' },
        @{ Name = 'Switch-VaultTraffic' }, @{ Name = 'Unlock-VaultDeployment' }) {
        $a = (Get-Command $Name).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $a.SupportsShouldProcess | Should-BeTrue
        "$($a.ConfirmImpact)" | Should-Be 'High'
    }

    It 'Invoke-VaultRunbook declares Low: it asks before each step instead' {
        $a = (Get-Command Invoke-VaultRunbook).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        "$($a.ConfirmImpact)" | Should-Be 'Low'
    }
}

Describe 'Where nobody can answer (default $ConfirmPreference)' {
    It '<Command> fails in a -NonInteractive pwsh, and the backend keeps serving the same version and process' -ForEach @(
        @{ Command = 'Stop-VaultBackend'; Line = '$t | Stop-VaultBackend' }
        @{ Command = 'Invoke-VaultDeployment'; Line = '$t | Invoke-VaultDeployment -Artifact $artifact -Sha256 $sha' }
        @{ Command = 'Undo-VaultDeployment'; Line = '$t | Undo-VaultDeployment'; Deployed = $true }) {
        if ($Deployed -and (Get-OnCallServed $W).Version -ne '1.3.0') {
            # A release to go back to: v1.3.0 deployed here (this pwsh asks nothing: $ConfirmPreference is None).
            $wp = $W.Params
            (New-VaultTarget @wp | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -WarningAction SilentlyContinue).Status | Should-Be 'Succeeded'
        }
        $before = Get-OnCallServed $W
        $journals = Get-OnCallJournalFiles $W
        $r = Invoke-Child "try { `$out = $Line -ErrorAction Stop; 'out=' + @(`$out).Count } catch { 'failed: ' + `$_.Exception.Message }"
        $r.Output | Should-BeLikeString '*confirm=High*'
        $r.Output | Should-BeLikeString '*failed: *NonInteractive mode*'
        $r.Output | Should-NotBeLikeString '*out=*'
        Assert-Unchanged $before $journals
    }

    It '<Command> fails in a pwsh without -NonInteractive whose input is at its end, and changes nothing' -ForEach @(
        @{ Command = 'Stop-VaultBackend'; Line = '$t | Stop-VaultBackend' }
        @{ Command = 'Invoke-VaultDeployment'; Line = '$t | Invoke-VaultDeployment -Artifact $artifact -Sha256 $sha' }) {
        $before = Get-OnCallServed $W
        $journals = Get-OnCallJournalFiles $W
        $r = Invoke-Child -NoInput "try { `$out = $Line -ErrorAction Stop; 'out=' + @(`$out).Count } catch { 'failed: ' + `$_.Exception.Message }"
        $r.Output | Should-BeLikeString '*confirm=High*'
        $r.Output | Should-BeLikeString '*failed: *'
        $r.Output | Should-NotBeLikeString '*out=*'
        Assert-Unchanged $before $journals
    }

    It 'Invoke-VaultRunbook refuses with PromptUnavailable in a pwsh without -NonInteractive whose input is at its end' {
        $before = Get-OnCallServed $W
        $journals = Get-OnCallJournalFiles $W
        $r = Invoke-Child -NoInput @'
$out = $t | Invoke-VaultRunbook -Artifact $artifact -Sha256 $sha -ErrorVariable e -ErrorAction SilentlyContinue
"out=$(@($out).Count) errors=$(@($e).Count) id=$($e[0].FullyQualifiedErrorId)"
'@
        $r.Output | Should-BeLikeString '*out=0 errors=1 id=PromptUnavailable,YieldVault.Ops.Commands.InvokeVaultRunbookCommand*'
        Assert-Unchanged $before $journals
    }

    It 'with -Confirm:$false a scheduled script stops and starts the backend without asking' {
        $before = Get-OnCallServed $W
        $r = Invoke-Child -NoInput @'
$s = $t | Stop-VaultBackend -Confirm:$false
$u = $t | Start-VaultBackend -Confirm:$false
"stopped=$($null -ne $s) started=$($null -ne $u)"
'@
        $r.Output | Should-BeLikeString '*stopped=True started=True*'
        $after = Get-OnCallServed $W
        $after.Health | Should-Be 200
        $after.Version | Should-Be $before.Version
        $after.Pid | Should-NotBe $before.Pid
    }
}
